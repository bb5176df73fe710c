"""Names from bylines and editor lines, and the publication date-time.

One small grammar serves every credit people.com.cn writes: a role word, then
names, then perhaps another role and its names. It is met in five places:

- ``div.author`` / ``p.author``: ``本报记者  王乐文  方  敏``, ``记者 李明``, bare names;
- a lead-in: ``本报讯（记者叶婉）近日，…``, ``新华社北京4月24日电（记者宋晨、田中全）…``;
- a closing byline ending a paragraph: ``…出席了会议（文：苏萧煌 住党轩 摄影：鲁茂亮）``;
- a paragraph that is only a credit line: ``□ 本报记者 葛灵丹``, ``新华社记者``;
- an editor line: ``(责编：张鑫、唐璐璐)``, ``（责任编辑：王婧）``.

Inside parentheses and in a whole credit line the role word may run straight into
the names (``记者叶婉``): there nothing but names can follow it. Elsewhere a role
word needs a colon, slash or space after it, so that the 文 of 文静 is no role.
The site pads two-character names to three cells (``方  敏``): two single
characters in a row are one name. The BIG5 edition writes the same in traditional
script, often with half-width punctuation. Where a saved page lost characters to
U+FFFD, the names before the damage are returned and none after it is guessed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
DAMAGED = "\ufffd"

#: the words an editor line is found by, before EDITOR_LINE reads it
EDITOR_WORDS = ("责编", "責編", "编辑", "編輯")
#: an editor line is a short block of its own, not a sentence that mentions one
MAX_EDITOR_LINE_CHARS = 60
EDITOR_LINE = re.compile(
    r"[(（]\s*(?:责编|責編|责任编辑|責任編輯|编辑|編輯)\s*[:：]\s*(?P<names>[^()（）]*?)\s*[)）]"
)

#: roles of two characters or more, longest first: they may run into the names
_LONG_AUTHOR_ROLES = (
    "人民日报记者|人民日報記者|新华社记者|新華社記者|中新社记者|中新社記者|"
    "本报记者|本報記者|本网记者|本網記者|特约记者|特約記者|见习记者|見習記者|"
    "实习记者|實習記者|本报通讯员|本報通訊員|记者|記者|通讯员|通訊員|实习生|實習生|"
    "撰文|作者|文字"
)
_LONG_PHOTO_ROLES = "摄影记者|攝影記者|摄影|攝影|图片|圖片"
_BOTH_ROLES = "文[/／]图|文[/／]圖|图文|圖文"
_SHORT_ROLES = "文|摄|攝|图|圖"
_ANY_ROLE = f"{_BOTH_ROLES}|{_LONG_PHOTO_ROLES}|{_LONG_AUTHOR_ROLES}|{_SHORT_ROLES}"
_SEPARATOR = r"(?:\s*[:：/／]\s*|\s+)"
# A role standing at the start or after a separator, followed by a colon, a slash
# or a space: the form of free text such as a p.author line.
_ROLE = re.compile(rf"(?:^|(?<=[\s、,，;；]))(?P<role>{_ANY_ROLE}){_SEPARATOR}")
# In a parenthesised byline or a whole credit line, a long role word may also run
# straight into the names that follow it, or stand alone at the end.
_TIGHT_ROLE = re.compile(
    rf"(?P<role>{_BOTH_ROLES}|{_LONG_PHOTO_ROLES}|{_LONG_AUTHOR_ROLES})(?:\s*[:：/／]\s*|\s*)"
    rf"|(?:^|(?<=[\s、,，;；]))(?P<short>{_SHORT_ROLES}){_SEPARATOR}"
)
_PHOTO = re.compile(rf"^(?:{_LONG_PHOTO_ROLES}|摄|攝|图|圖)$")
_BOTH = re.compile(rf"^(?:{_BOTH_ROLES})$")
#: words that end a byline's names without being one ("（记者 张三 报道）")
_NOT_NAMES = frozenset({"报道", "報道", "报导", "報導", "发自", "發自", "综合报道", "綜合報道",
                        "整理", "编译", "編譯", "摄", "攝", "摄影", "攝影"})
_PHOTO_SUFFIX = frozenset({"摄", "攝", "摄影", "攝影"})
_NAME_SPLIT = re.compile(r"[\s、,，;；/／]+")
#: a person's name: two to four Han characters, a transcribed name with its dot
#: (阿依古丽·买买提), or a name in Latin letters
_NAME = re.compile(r"^(?:[\u3400-\u9fff]{2,4}|[\u3400-\u9fff]{1,8}[·•][\u3400-\u9fff·•]{1,16}"
                   r"|[A-Za-z][A-Za-z.]{1,30})$")
_CJK_CHAR = re.compile(r"^[\u3400-\u9fff]$")

# A lead-in byline: 本报讯 or a dateline ending in 电, then the parenthesised credit.
_LEAD_IN = re.compile(
    rf"^(?:本报讯|本報訊|[^（()。，,]{{0,30}}?[电電])\s*[（(]\s*"
    rf"(?P<inner>(?:{_ANY_ROLE})[^()（）]*?)\s*[)）]"
)
# A closing byline: the parenthesised credit that ends a paragraph. Without its
# closing parenthesis only where the text is damaged (the parenthesis was lost).
_CLOSING = re.compile(
    rf"[(（]\s*(?P<inner>(?:{_ANY_ROLE})[^()（）]*?)\s*(?:[)）]|(?<={DAMAGED})[^()（）]*)\s*$"
)
_BULLET = re.compile(r"^[□■●◆◇○·•]\s*")

DATETIME = re.compile(
    r"(?P<y>\d{4})\s*[年\-/.]\s*(?P<m>\d{1,2})\s*[月\-/.]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*(?P<H>\d{1,2})\s*[:：]\s*(?P<M>\d{2})(?:\s*[:：]\s*(?P<S>\d{2}))?)?"
)

People = tuple[list[str], list[str]]


def unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def split_names(text: str) -> list[str]:
    return [name for name in _NAME_SPLIT.split(text.strip()) if name]


def _names(text: str) -> tuple[list[str], bool, bool]:
    """``(names, photographed, damaged)`` of the text after one role word.

    Padded single characters are joined pairwise; reading stops at the first
    damaged token (and says so) or at a word that ends the names (报道, 摄).
    ``photographed`` is True when the names are followed by 摄 ("张三 摄").
    """
    tokens = split_names(text)
    merged: list[str] = []
    pending = ""
    for token in tokens:
        if _CJK_CHAR.match(token):
            if pending:
                merged.append(pending + token)
                pending = ""
            else:
                pending = token
            continue
        if pending:
            merged.append(pending)
            pending = ""
        merged.append(token)
    if pending:
        merged.append(pending)
    names: list[str] = []
    for token in merged:
        if DAMAGED in token:
            return names, False, True
        if token in _NOT_NAMES:
            return names, token in _PHOTO_SUFFIX, False
        if _NAME.match(token):
            names.append(token)
        else:
            break
    return names, False, False


def _read_roles(text: str, pattern: re.Pattern[str]) -> People | None:
    """People of ``text`` made of role words and names only, or None when ``text``
    does not start with a role word."""
    marks = list(pattern.finditer(text))
    if not marks or marks[0].start() != 0 and text[: marks[0].start()].strip():
        return None
    authors: list[str] = []
    photographers: list[str] = []
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        role = mark["role"] or mark.groupdict().get("short") or ""
        names, photographed, damaged = _names(text[mark.end():end])
        if _BOTH.match(role):
            authors.extend(names)
            photographers.extend(names)
        elif _PHOTO.match(role) or photographed:
            photographers.extend(names)
        else:
            authors.extend(names)
        if damaged:
            break
    return authors, photographers


def byline_people(text: str) -> People:
    """``(authors, photographers)`` named in a byline such as ``文：甲 乙 摄影：丙``."""
    return _read_roles(text.strip(), _ROLE) or ([], [])


def _tight_people(inner: str) -> People:
    return _read_roles(inner.strip(), _TIGHT_ROLE) or ([], [])


def body_byline(paragraph: str) -> People:
    """People credited inside a body paragraph: a lead-in ``本报讯（记者…）`` and a
    parenthesised byline that closes it."""
    authors: list[str] = []
    photographers: list[str] = []
    lead_in = _LEAD_IN.match(paragraph)
    closing = _CLOSING.search(paragraph)
    for match in (lead_in, closing):
        if match is None or (match is closing and lead_in and closing.start() < lead_in.end()):
            continue
        found_authors, found_photographers = _tight_people(match["inner"])
        authors += found_authors
        photographers += found_photographers
    return authors, photographers


def credit_line(paragraph: str) -> People | None:
    """The people of a paragraph that is only a credit line (``□ 本报记者 葛灵丹``,
    ``新华社记者``), or None when the paragraph is text. A parenthesised credit
    standing alone (``（记者 陈洁）``) closes the text as printed and stays text."""
    text = _BULLET.sub("", paragraph.strip())
    if not text or text[0] in "（(":
        return None
    marks = list(_TIGHT_ROLE.finditer(text))
    if not marks or marks[0].start() != 0:
        return None
    covered = 0
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        segment = text[mark.end():end]
        names, _, damaged = _names(segment)
        tokens = split_names(segment)
        readable = [token for token in tokens if token not in _NOT_NAMES]
        if not damaged and len("".join(readable)) != len("".join(names)):
            return None  # something other than names follows a role: a sentence
        covered += 1
    return _tight_people(text) if covered else None


def editors_from(text: str) -> list[str] | None:
    """Names of an editor line, or None when ``text`` is not one."""
    match = EDITOR_LINE.search(text)
    if not match:
        return None
    names, _, _ = _names(match["names"])
    return names


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


def author_line(text: str) -> People:
    """People of a ``p.author`` line: with role words (``记者 李明``) or bare names."""
    authors, photographers = byline_people(text)
    if authors or photographers:
        return authors, photographers
    names, _, _ = _names(text)
    return names, []
