"""Blocks inside an article container that are not article text.

Share widgets (``分享让更多人看到`` with ``share.png``), follow-us and QR-code
promotions (``关注公众号：人民网财经``), related-article and recommendation boxes,
app-download and advertising blocks sit inside the article containers of real
pages. No list of one page's class names finds them on pages nobody has seen, so
three kinds of evidence are weighed, each general:

- **purpose in the name**: a class or id whose parts name the block's purpose
  (``section-common-share-wrap``, ``tjewm``, ``rm_relevant``, ``box_down``);
- **promotion wording**: a short block whose whole text is a promotion's call to
  action (分享到, 扫一扫, 关注公众号, 下载客户端, 推荐阅读, in either script);
- **link density**: a list or box whose text is mostly links, as related-article
  lists are (article paragraphs hardly link at all).

Only descendants of a container are judged, never the container itself or an
element the templates read (editor lines and pagers are chrome the extractors
still need; they leave later).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator

from lxml import etree

from .tree import text_content

_PART = re.compile(r"[\s_-]+")
_PURPOSE = re.compile(
    r"share|fenxiang|qrcode|erweima|ewm\d*$|^ewm|relevant|related|recommend|^tjyd|^xgxw|^xgyd"
    r"|download|^down$|advert|^ads?$|^adv$|^guanggao|banner|toolbar|^fx$|^follow|^subscribe",
    re.IGNORECASE,
)
_PROMOTION = re.compile(
    "分享让更多人看到|分享讓更多人看到|分享到|关注公众号|關注公眾號|微信公众号|微信公眾號|"
    "扫码关注|掃碼關注|扫一扫|掃一掃|扫描二维码|掃描二維碼|长按识别|長按識別|识别二维码|識別二維碼|"
    "下载客户端|下載客戶端|点击下载|點擊下載|推荐阅读|推薦閱讀|相关阅读|相關閱讀|延伸阅读|延伸閱讀|"
    "相关新闻|相關新聞|更多精彩"
)
#: a promotion's whole text is a call to action, not a paragraph
MAX_PROMOTION_CHARS = 40
#: a box is a link list when this share of its text is link text
LINK_DENSITY = 0.6
_LINK_BOXES = frozenset({"ul", "ol", "dl", "table", "div", "section", "aside", "nav"})


def _named_for_chrome(element: etree._Element) -> bool:
    names = f"{element.get('class') or ''} {element.get('id') or ''}"
    return any(_PURPOSE.search(part) for part in _PART.split(names) if part)


def _visible_length(text: str) -> int:
    """The characters of ``text`` that are not whitespace."""
    return sum(map(len, text.split()))


def _promotion(text: str) -> bool:
    if len(text) > 4 * MAX_PROMOTION_CHARS:
        return False
    text = "".join(text.split())
    return len(text) <= MAX_PROMOTION_CHARS and _PROMOTION.search(text) is not None


def _link_list(element: etree._Element, text: str) -> bool:
    if element.tag not in _LINK_BOXES:
        return False
    links = element.findall(".//a")
    if len(links) < 3:
        return False
    total = _visible_length(text)
    linked = sum(_visible_length(text_content(link)) for link in links)
    return total > 0 and linked >= LINK_DENSITY * total


def _reads_as_boilerplate(element: etree._Element) -> bool:
    """A promotion's call to action, or a box of links: its text read once for both."""
    text = text_content(element)
    return _promotion(text) or _link_list(element, text)


def boilerplate_in(container: etree._Element, keep: Collection[etree._Element]
                   ) -> Iterator[etree._Element]:
    """The outermost boilerplate blocks inside ``container``. Elements in ``keep``
    (the regions the templates read, and every ancestor of one) are never judged
    boilerplate, though what they hold is."""
    for element in container.iterchildren(etree.Element):
        if element not in keep and (_named_for_chrome(element) or _reads_as_boilerplate(element)):
            yield element
        else:
            yield from boilerplate_in(element, keep)
