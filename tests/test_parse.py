"""Extraction (crawler.parse): every reference page parses to its expected record,
everything that is not an article is refused with a reason, and nothing half-read
(a truncated page, a page whose body went missing) comes back as an article.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from crawler.parse import (
    ExtractionError,
    NotAnArticle,
    ParseRefused,
    parse_document,
    parse_page,
)
from crawler.parse.decoding import decode_page
from crawler.parse.fields import split_editor_lines
from crawler.parse.people import (
    author_line,
    body_byline,
    byline_people,
    editors_from,
    parse_datetime,
)
from tests.support.pages import (
    ARTICLES,
    BIG5_SEED,
    EXPECTED_PAGES,
    FULLSIZE_PAGE,
    MISSING_URL,
    NON_ARTICLES,
    SEED,
    SEED_URL,
    ReferencePage,
    expected_name,
)


def article(url_part: str) -> ReferencePage:
    return next(page for page in ARTICLES if url_part in page.url)


def replace_everywhere(value: Any, old: str, new: str) -> Any:
    """``value`` (a record) with ``old`` replaced by ``new`` in every string."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [replace_everywhere(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: replace_everywhere(item, old, new) for key, item in value.items()}
    return value


def refused(kind: type[ParseRefused], body: bytes, url: str = MISSING_URL,
            content_type: str | None = "text/html") -> ParseRefused:
    """Assert that parsing is refused with ``kind`` and a reason; return the refusal."""
    with pytest.raises(kind) as caught:
        parse_page(body, url, content_type)
    assert isinstance(caught.value.reason, str) and caught.value.reason.strip()
    return caught.value


# --- the reference pages -------------------------------------------------------------


def test_every_expected_page_is_served_by_the_mirror() -> None:
    served = {expected_name(page.url) for page in ARTICLES}
    assert served == {path.name for path in EXPECTED_PAGES.glob("*.json")}


@pytest.mark.parametrize("page", ARTICLES, ids=lambda page: page.id)
def test_reference_page_parses_to_expected(page: ReferencePage) -> None:
    parsed = parse_document(page.body, page.url, page.content_type)
    assert parsed.record == page.expected
    assert parsed.extractor != "fallback", "a reference page went through the fallback"


def test_fullsize_page_parses_to_the_seed_record() -> None:
    assert parse_page(FULLSIZE_PAGE.body, SEED_URL, "text/html") == SEED.expected


def test_parse_is_a_pure_function_of_its_input() -> None:
    first = parse_page(SEED.body, SEED.url, SEED.content_type)
    assert parse_page(SEED.body, SEED.url, SEED.content_type) == first
    assert json.loads(json.dumps(first, ensure_ascii=False)) == first


# --- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize("page", NON_ARTICLES, ids=lambda page: page.id)
def test_non_article_reference_pages_are_refused(page: ReferencePage) -> None:
    refused(NotAnArticle, page.body, page.url, page.content_type)


def test_list_page_served_at_an_article_url_is_refused() -> None:
    listing = next(page for page in NON_ARTICLES if page.url.endswith("/index2.html"))
    refused(NotAnArticle, listing.body, MISSING_URL, listing.content_type)


@pytest.mark.parametrize("body", [
    b"<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1>"
    b"</center><hr><center>nginx</center></body></html>",
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>页面不存在--人民网</title></head>"
    "<body><div class='box404'><h1>对不起，您访问的页面不存在或已被删除！</h1>"
    "<p>您可以返回人民网首页继续浏览，或者稍后再试。感谢您对人民网的关注与支持，"
    "我们将尽快恢复相关内容。</p><p><a href='http://www.people.com.cn/'>返回首页</a></p>"
    "</div><div class='copyright'>人民网版权所有，未经书面授权禁止使用</div></body></html>"
    .encode(),
], ids=["nginx-404", "people-404"])
def test_error_page_bodies_are_refused(body: bytes) -> None:
    refused(NotAnArticle, body)


@pytest.mark.parametrize(("body", "content_type"), [
    (b"", "text/html"),
    (b" \r\n\t ", "text/html"),
    (bytes(range(256)) * 16, None),
    (b"\x89PNG\r\n\x1a\n" + bytes(2048), "image/png"),
    (b"\x89PNG\r\n\x1a\n" + bytes(2048), None),
    (b"\x1f\x8b\x08\x00" + bytes(range(1, 255)) * 8, "text/html"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj", "application/pdf"),
    ("江苏住建行业党委从“建起来”走向“强起来”".encode("gb18030"), None),
], ids=["empty", "whitespace", "binary", "png", "png-untyped", "gzip", "pdf", "no-markup"])
def test_empty_binary_and_non_html_bodies_are_refused(body: bytes, content_type: str | None
                                                      ) -> None:
    refused(NotAnArticle, body, SEED_URL, content_type)


def _without_element(text: str, opening: str) -> str:
    """``text`` without the div that starts at the first match of ``opening``."""
    start = re.search(opening, text)
    assert start is not None, opening
    depth = 0
    for tag in re.finditer(r"<div\b|</div>", text[start.start():]):
        depth += 1 if tag[0] == "<div" else -1
        if depth == 0:
            return text[:start.start()] + text[start.start() + tag.end():]
    raise AssertionError(f"unclosed {opening}")


@pytest.mark.parametrize("page", [SEED, FULLSIZE_PAGE], ids=lambda page: page.id)
def test_page_whose_body_went_missing_is_not_read_from_teasers(page: ReferencePage) -> None:
    """The 推荐阅读 teaser is the densest text left: it must not become the body."""
    text = _without_element(page.text(), r'<div class="box_con" id="rwb_zw">')
    refused(ParseRefused, text.encode("utf-8"), SEED_URL, "text/html; charset=utf-8")


def test_template_page_with_an_empty_body_is_an_extraction_error() -> None:
    text = re.sub(r'(<div class="box_con" id="rwb_zw">).*?(<div class="edit)', r"\1\2",
                  SEED.text(), flags=re.S)
    error = refused(ExtractionError, text.encode("utf-8"), SEED_URL, "text/html; charset=utf-8")
    assert "body" in error.reason


def test_template_page_without_a_date_is_an_extraction_error() -> None:
    text = SEED.text().replace("2020年10月19日14:37", "")
    error = refused(ExtractionError, text.encode("utf-8"), SEED_URL, "text/html; charset=utf-8")
    assert "date" in error.reason


# --- truncation ----------------------------------------------------------------------


def _cuts(length: int, count: int = 24) -> list[int]:
    return sorted({1 + (length - 2) * step // (count - 1) for step in range(count)})


@pytest.mark.parametrize("page", [*ARTICLES, FULLSIZE_PAGE], ids=lambda page: page.id)
def test_truncated_page_is_an_extraction_error(page: ReferencePage) -> None:
    """Cut anywhere before the end of the body, as bytes (possibly inside a multi-byte
    character) and as text re-encoded whole: never an article."""
    end = page.body.lower().rindex(b"</body")
    for cut in _cuts(end):
        with pytest.raises(ExtractionError):
            parse_page(page.body[:cut], page.url, page.content_type)
    text = page.text()
    for cut in _cuts(text.lower().rindex("</body")):
        with pytest.raises(ExtractionError):
            parse_page(text[:cut].encode("utf-8"), page.url, "text/html; charset=utf-8")


# --- decoding ------------------------------------------------------------------------


def test_gbk_only_characters_survive_a_gb2312_declaration() -> None:
    """喆 堃 镕 are not in GB2312; pages that declare it use them anyway."""
    page = article("c360300-34567001")
    assert page.content_type == "text/html; charset=GB2312"
    record = parse_page(page.body, page.url, page.content_type)
    assert "王喆" in record["title"] and record["authors"] == ["刘堃"]

    text = page.text().replace("王喆", "朱镕基")
    parsed = parse_document(text.encode("gb18030"), page.url, page.content_type)
    assert parsed.encoding == "gb18030"
    assert parsed.record == replace_everywhere(page.expected, "王喆", "朱镕基")

    decoded = decode_page('<meta charset="gb2312">喆堃镕'.encode("gb18030"))
    assert decoded.text.endswith("喆堃镕") and decoded.encoding == "gb18030"


def test_big5_is_decoded_with_a_superset_codec() -> None:
    parsed = parse_document(BIG5_SEED.body, BIG5_SEED.url, BIG5_SEED.content_type)
    assert parsed.encoding == "big5hkscs"
    assert parsed.record["title"].startswith("江蘇住建行業黨委")
    # 堃 is HKSCS, 碁 an ETEN extension: neither is plain BIG5.
    text = BIG5_SEED.text().replace("魯茂亮", "魯堃碁")
    body = text.encode("big5hkscs")
    with pytest.raises(UnicodeDecodeError):
        body.decode("big5")
    record = parse_page(body, BIG5_SEED.url, BIG5_SEED.content_type)
    assert record == replace_everywhere(BIG5_SEED.expected, "魯茂亮", "魯堃碁")
    assert record["photographers"] == ["魯堃碁"]


def _meta_removed(text: str) -> str:
    without = re.sub(r"<meta[^>]*charset[^>]*>", "", text, flags=re.IGNORECASE)
    assert without != text
    return without


def test_charset_on_link_or_script_is_not_a_page_declaration() -> None:
    text = _meta_removed(SEED.text()).replace(
        "<head>", '<head><script src="/gbk.js" charset="big5"></script>'
                  '<link rel="stylesheet" href="/a.css" charset="big5" />', 1)
    body = text.encode("gb18030")
    assert decode_page(body).declared_by == "bytes"
    parsed = parse_document(body, SEED.url, "text/html")
    assert (parsed.encoding, parsed.record) == ("gb18030", SEED.expected)
    # Before a real declaration, too: the <meta> still decides.
    text = SEED.text().replace("<head>", '<head><script src="/a.js" charset="big5"></script>', 1)
    decoded = decode_page(text.encode("gb18030"))
    assert (decoded.encoding, decoded.declared_by) == ("gb18030", "meta")


@pytest.mark.parametrize("content_type", [None, "text/html", "text/html; charset=GB2312"])
def test_utf8_page_declaring_gb2312_is_decoded_as_utf8(content_type: str | None) -> None:
    page = article("c360300-40567890")
    declaration = '<meta http-equiv="content-type" content="text/html;charset=GB2312"/>'
    text = page.text().replace('<meta charset="utf-8">', declaration)
    assert "charset=GB2312" in text
    parsed = parse_document(text.encode("utf-8"), page.url, content_type)
    assert (parsed.encoding, parsed.record) == ("utf-8", page.expected)


def test_charset_only_in_the_http_header() -> None:
    body = _meta_removed(SEED.text()).encode("gb18030")
    decoded = decode_page(body, "text/html; charset=GB2312")
    assert (decoded.encoding, decoded.declared_by) == ("gb18030", "http-header")
    assert parse_page(body, SEED.url, "text/html; charset=GB2312") == SEED.expected


def test_declarations_are_read_header_then_bom_then_meta() -> None:
    gb_text = SEED.text()  # declares GB2312 in a <meta>
    gb_body = gb_text.replace("charset=GB2312", "charset=big5").encode("gb18030")
    header = decode_page(gb_body, "text/html; charset=GBK")
    assert (header.encoding, header.declared_by) == ("gb18030", "http-header")

    utf8_body = b"\xef\xbb\xbf" + gb_text.encode("utf-8")
    bom = decode_page(utf8_body, "text/html")
    assert (bom.encoding, bom.declared_by) == ("utf-8", "bom")
    assert not bom.text.startswith("\ufeff")
    assert parse_page(utf8_body, SEED.url, "text/html") == SEED.expected
    both = decode_page(utf8_body, "text/html; charset=utf-8")
    assert both.declared_by == "http-header" and not both.text.startswith("\ufeff")

    meta = decode_page(SEED.body, "text/html")
    assert (meta.encoding, meta.declared_by) == ("gb18030", "meta")


# --- the generic fallback ------------------------------------------------------------

#: the template classes and ids, renamed as a redesign would
RENAMES = {
    "text_title": "article_head", "rwb_zw": "main_text", "box_con": "main_box",
    "box01": "meta_line", "rm_txt_con": "main_text", "rm_txt": "article", "col-1-1": "meta-line",
    "col-1": "main-col", "p_title": "headline", "p_content": "content",
    "p_publishtime": "pubtime", "p_origin": "origin",
}
_RENAMED = re.compile(r'(?<=[" ])(' + "|".join(sorted(map(re.escape, RENAMES), key=len,
                                                       reverse=True)) + r')(?=[" ])')


def renamed(text: str) -> str:
    return _RENAMED.sub(lambda match: RENAMES[match[1]], text)


@pytest.mark.parametrize("page", [*ARTICLES, FULLSIZE_PAGE], ids=lambda page: page.id)
def test_fallback_reads_a_page_with_renamed_template_markup(page: ReferencePage) -> None:
    text = renamed(page.text())
    assert "rwb_zw" not in text and "rm_txt_con" not in text and "p_content" not in text
    parsed = parse_document(text.encode("utf-8"), page.url, "text/html; charset=utf-8")
    record, expected = parsed.record, page.expected
    assert expected is not None
    assert parsed.extractor == "fallback" and record["extractor"] == "fallback"
    assert record["title"] == expected["title"]
    assert record["published_at"] == expected["published_at"]
    assert record["body"] == expected["body"]
    for field in ("source", "source_url", "editors", "authors", "photographers", "images",
                  "page", "page_count", "article_id", "column_id", "edition"):
        assert record[field] == expected[field], field


# --- bylines, editor lines and dates -------------------------------------------------


@pytest.mark.parametrize(("paragraph", "authors", "photographers"), [
    ("出席了会议（文：苏萧煌 住党轩 摄影：鲁茂亮）", ["苏萧煌", "住党轩"], ["鲁茂亮"]),
    ("不断推动点上经验向面上扩展。（记者 陈洁 通讯员 苏建宣）", ["陈洁", "苏建宣"], []),
    ("出席了會議(文:蘇蕭煌 住黨軒 攝影:魯茂亮)", ["蘇蕭煌", "住黨軒"], ["魯茂亮"]),
    ("（本报记者 王晓晴）", ["王晓晴"], []),
    ("文静同志在会上发言（扩大）", [], []),
    ("（文：苏萧煌）之后还有正文。", [], []),
    ("江苏省住房和城乡建设行业党委（扩大）会现场", [], []),
])
def test_body_byline(paragraph: str, authors: list[str], photographers: list[str]) -> None:
    assert body_byline(paragraph) == (authors, photographers)


@pytest.mark.parametrize(("line", "authors", "photographers"), [
    ("记者 李明", ["李明"], []),
    ("通讯员 刘堃", ["刘堃"], []),
    ("记者 陈洁 通讯员 苏建宣", ["陈洁", "苏建宣"], []),
    ("文：苏萧煌 住党轩 摄影：鲁茂亮", ["苏萧煌", "住党轩"], ["鲁茂亮"]),
    ("記者 李明", ["李明"], []),
    ("李明 王婧", ["李明", "王婧"], []),
    ("", [], []),
])
def test_author_line(line: str, authors: list[str], photographers: list[str]) -> None:
    assert author_line(line) == (authors, photographers)


def test_a_name_starting_with_a_role_character_is_not_a_role() -> None:
    assert byline_people("文静 图雅") == ([], [])


@pytest.mark.parametrize(("line", "names"), [
    ("(责编：张鑫、唐璐璐)", ["张鑫", "唐璐璐"]),
    ("（责编：周宇）", ["周宇"]),
    ("(责任编辑：王婧)", ["王婧"]),
    ("(責編:張鑫、唐璐璐)", ["張鑫", "唐璐璐"]),
    ("(编辑：高雨 徐倩)", ["高雨", "徐倩"]),
    ("责编张鑫", None),
    ("江苏住建行业党委从“建起来”走向“强起来”", None),
])
def test_editor_line(line: str, names: list[str] | None) -> None:
    assert editors_from(line) == names


def test_editor_line_written_as_the_last_body_paragraph_leaves_the_body() -> None:
    body = ["第一段。", "（记者 陈洁 通讯员 苏建宣）", "(责编：张鑫、唐璐璐)"]
    assert split_editor_lines(body) == (body[:2], ["张鑫", "唐璐璐"])
    mention = "本文经(责编：张鑫)审定后，于次日在人民网江苏频道刊发，并由多家媒体转载。"
    assert split_editor_lines([mention]) == ([mention], [])


@pytest.mark.parametrize(("text", "iso"), [
    ("2020年10月19日14:37  来源：人民网", "2020-10-19T14:37:00+08:00"),
    ("2020年10月20日 08:05", "2020-10-20T08:05:00+08:00"),
    ("2020年10月20日\u00a008:05", "2020-10-20T08:05:00+08:00"),
    ("2023-03-15 16:20:05", "2023-03-15T16:20:05+08:00"),
    ("2014年6月2日9:07", "2014-06-02T09:07:00+08:00"),
    ("2020年13月40日14:37", None),
    ("无日期", None),
])
def test_publication_datetime(text: str, iso: str | None) -> None:
    assert parse_datetime(text) == iso
