"""Names from bylines and editor lines, and the publication date-time.

One line format serves editors, authors and photographers on people.com.cn:
``(责编：张鑫、唐璐璐)``, ``（文：苏萧煌 住党轩 摄影：鲁茂亮）``, ``记者 李明``,
``（记者 陈洁 通讯员 苏建宣）``; the BIG5 edition writes the same in traditional
script and often with half-width punctuation.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))

EDITOR_LINE = re.compile(
    r"[(（]\s*(?:责编|責編|责任编辑|責任編輯|编辑|編輯)\s*[:：]\s*(?P<names>[^()（）]*?)\s*[)）]"
)

_AUTHOR_ROLES = (
    "本报记者|本報記者|本网记者|本網記者|新华社记者|新華社記者|特约记者|特約記者|"
    "记者|記者|通讯员|通訊員|撰文|作者|文"
)
_PHOTO_ROLES = "摄影|攝影|图片|圖片|摄|攝|图|圖"
# A role word stands at the start or after a separator and is followed by a colon,
# a slash or a space, so that the 文 of a name such as 文静 is not taken for a role.
_ROLE = re.compile(
    rf"(?:^|(?<=[\s、,，;；]))(?P<role>{_AUTHOR_ROLES}|{_PHOTO_ROLES})(?:\s*[:：/／]\s*|\s+)"
)
_PHOTO = re.compile(rf"^(?:{_PHOTO_ROLES})$")
# A byline in parentheses closing a paragraph, starting with a role word.
BODY_BYLINE = re.compile(
    rf"[(（]\s*(?P<inner>(?:{_AUTHOR_ROLES}|{_PHOTO_ROLES})(?:\s*[:：/／]\s*|\s+)[^()（）]+?)\s*[)）]\s*$"
)
_NAME_SPLIT = re.compile(r"[\s、,，;；/／]+")
_NAME = re.compile(r"^[\u3400-\u9fff·•A-Za-z.]{2,12}$")

DATETIME = re.compile(
    r"(?P<y>\d{4})\s*[年\-/.]\s*(?P<m>\d{1,2})\s*[月\-/.]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*(?P<H>\d{1,2})\s*[:：]\s*(?P<M>\d{2})(?:\s*[:：]\s*(?P<S>\d{2}))?)?"
)


def split_names(text: str) -> list[str]:
    return [name for name in _NAME_SPLIT.split(text.strip()) if name]


def editors_from(text: str) -> list[str] | None:
    """Names of an editor line, or None when ``text`` is not one."""
    match = EDITOR_LINE.search(text)
    return split_names(match["names"]) if match else None


def byline_people(text: str) -> tuple[list[str], list[str]]:
    """``(authors, photographers)`` named in a byline such as ``文：甲 乙 摄影：丙``."""
    authors: list[str] = []
    photographers: list[str] = []
    marks = list(_ROLE.finditer(text))
    if not marks or text[: marks[0].start()].strip():
        return authors, photographers
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        names = [n for n in split_names(text[mark.end():end]) if _NAME.match(n)]
        (photographers if _PHOTO.match(mark["role"]) else authors).extend(names)
    return authors, photographers


def body_byline(paragraph: str) -> tuple[list[str], list[str]]:
    """People credited by a parenthesised byline that closes a body paragraph."""
    match = BODY_BYLINE.search(paragraph)
    return byline_people(match["inner"]) if match else ([], [])


def parse_datetime(text: str) -> str | None:
    """ISO 8601 in Beijing time for the first date (with its time of day) in ``text``."""
    match = DATETIME.search(text)
    if not match:
        return None
    try:
        moment = datetime(
            int(match["y"]), int(match["m"]), int(match["d"]),
            int(match["H"] or 0), int(match["M"] or 0), int(match["S"] or 0),
            tzinfo=BEIJING,
        )
    except ValueError:
        return None
    return moment.isoformat()


def unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def author_line(text: str) -> tuple[list[str], list[str]]:
    """People of a ``p.author`` line: with role words (``记者 李明``) or bare names."""
    authors, photographers = byline_people(text)
    if authors or photographers:
        return authors, photographers
    return [name for name in split_names(text) if _NAME.match(name)], []
