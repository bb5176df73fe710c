"""Every pattern the real people.com.cn pages showed, on small pages of our own.

The pages are in ``tests/fixtures/patterns/`` (their README says which pattern each
shows); test_parse_real.py runs the real pages themselves where they are at hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from archive.record import merge_pages
from crawler.parse import Blocked, Deleted, ExtractionError, NotAnArticle, parse_document
from crawler.parse.people import author_line, body_byline, credit_line, editors_from
from crawler.parse.urls import parse_article_url, parse_list_url
from tests.support.pages import JS, PATTERNS, URLS


def page_bytes(name: str) -> bytes:
    return (PATTERNS / name).read_bytes()


def parsed(name: str, body: bytes | None = None) -> tuple[dict[str, Any], str]:
    result = parse_document(page_bytes(name) if body is None else body, URLS[name], "text/html")
    return result.record, result.extractor


def test_every_pattern_page_is_listed_in_the_readme() -> None:
    readme = (PATTERNS / "README.md").read_text("utf-8")
    assert {path.name for path in PATTERNS.glob("*.html")} == set(URLS)
    assert all(f"`{name}`" in readme for name in URLS)


# --- the body is what a reader sees ------------------------------------------------


def test_the_body_is_what_a_reader_sees() -> None:
    record, extractor = parsed("rm_txt_reader_view.html")
    assert extractor == "rm_txt"
    assert record["body"] == [
        "本报讯（记者叶婉）近日，苏州市姑苏区的老旧小区里，社区党委牵头组建的“红色物业”服务队正式上岗。",
        "服务队由社区党员、物业员工和居民志愿者组成，每周收集居民诉求，当天响应、限时办结。",
        "这一段虽有隐藏规则，行内样式却让它显示出来。",
        "这一段只在手机上隐藏，桌面读者能看到。",
        "这一段只在鼠标悬停时隐藏。",
        "“红色物业”服务队在小区巡查",
        "“以前报修要等好几天，现在一个电话就有人上门。”居民王阿姨说，党员带头、居民参与，老小区的烦心事越来越少。",
    ]
    assert record["images"] == [{
        "src": f"{JS}/NMediaFile/2024/0510/LOCAL202405100658000001.jpg",
        "caption": "“红色物业”服务队在小区巡查"}]


@pytest.mark.parametrize("hidden", [
    '<p style="display:none">X</p>', '<p style="DISPLAY: none !important">X</p>',
    "<p hidden>X</p>", '<p style="visibility:hidden">X</p>',
    '<div class="otitle"><p>X</p></div>',
])
def test_hidden_markup_never_reaches_the_body(hidden: str) -> None:
    text = page_bytes("xinhua_bylines.html").decode("utf-8")
    marker = "隐藏的段落不是正文"
    text = text.replace("</head>", "<style>.rm_txt_con .otitle{display:none}</style></head>")
    anchor = "<p>　　在南京市鼓楼区"
    text = text.replace(anchor, hidden.replace("X", marker) + anchor)
    record, _ = parsed("xinhua_bylines.html", text.encode("utf-8"))
    assert marker not in " ".join(record["body"])
    assert record["body"] == parsed("xinhua_bylines.html")[0]["body"]


def test_an_inline_display_wins_over_the_sheet_unless_the_sheet_is_important() -> None:
    text = page_bytes("rm_txt_reader_view.html").decode("utf-8")
    shown = "这一段虽有隐藏规则，行内样式却让它显示出来。"
    important = text.replace(".rm_txt_con .note{display:none}",
                             ".rm_txt_con .note{display:none !important}")
    record, _ = parsed("rm_txt_reader_view.html", important.encode("utf-8"))
    assert shown not in record["body"]


def test_original_title_comes_out_of_the_body() -> None:
    record, _ = parsed("rm_txt_reader_view.html")
    assert record["original_title"] == "老小区里的红色管家"
    assert not any("原标题" in paragraph for paragraph in record["body"])
    # Shown as the first paragraph instead of hidden: the same.
    text = page_bytes("rm_txt_reader_view.html").decode("utf-8").replace(
        '<div class="otitle">原标题：老小区里的红色管家</div>', "<p>原标题：老小区里的红色管家</p>")
    visible, _ = parsed("rm_txt_reader_view.html", text.encode("utf-8"))
    assert visible["original_title"] == "老小区里的红色管家"
    assert visible["body"] == record["body"]
    assert parsed("xinhua_bylines.html")[0]["original_title"] == ""


def test_share_widgets_promotions_and_related_boxes_are_not_body() -> None:
    record, _ = parsed("rm_txt_reader_view.html")
    text = " ".join(record["body"])
    for chrome in ("分享让更多人看到", "关注公众号", "南京：党建引领", "推荐阅读", "小字号"):
        assert chrome not in text
    assert not any("share.png" in image["src"] or "MAIN2022" in image["src"]
                   for image in record["images"])


@pytest.mark.parametrize("chrome", [
    '<div class="article-share-bar"><a href="#">微信</a><a href="#">微博</a></div>',
    '<div id="qrcode-box"><img src="/q.png">扫码阅读</div>',
    '<div class="box"><img src="/q.png" alt="">扫一扫，关注我们</div>',
    '<p>长按识别二维码，下载客户端</p>',
    '<div class="extra"><h5>相关新闻</h5></div>',
    '<table><tr><td><a href="/a.html">第一篇相关报道的标题</a></td></tr>'
    '<tr><td><a href="/b.html">第二篇相关报道的标题</a></td></tr>'
    '<tr><td><a href="/c.html">第三篇相关报道的标题</a></td></tr></table>',
])
def test_boilerplate_found_by_purpose_wording_or_link_density(chrome: str) -> None:
    text = page_bytes("xinhua_bylines.html").decode("utf-8").replace(
        '<div class="edit cf">', chrome + '<div class="edit cf">')
    record, _ = parsed("xinhua_bylines.html", text.encode("utf-8"))
    clean, _ = parsed("xinhua_bylines.html")
    assert (record["body"], record["images"]) == (clean["body"], clean["images"])


def test_a_paragraph_with_a_link_is_still_text() -> None:
    text = page_bytes("xinhua_bylines.html").decode("utf-8").replace(
        "忙得不亦乐乎。", '忙得不亦乐乎，详见<a href="/x.html">社区服务指南</a>。')
    record, _ = parsed("xinhua_bylines.html", text.encode("utf-8"))
    assert ("在南京市鼓楼区，党员志愿者为老人测血压、修家电，忙得不亦乐乎，详见社区服务指南。"
            in record["body"])


# --- bylines wherever the site writes them ----------------------------------------


def test_bylines_of_the_reader_view_page_in_page_order() -> None:
    record, _ = parsed("rm_txt_reader_view.html")
    # div.author (方  敏 is one padded name), the lead-in, the closing □ line
    assert record["authors"] == ["王乐文", "方敏", "叶婉", "葛灵丹"]
    assert "□ 本报记者 葛灵丹" not in record["body"]


def test_xinhua_bylines() -> None:
    record, _ = parsed("xinhua_bylines.html")
    assert record["authors"] == ["宋晨", "田中全", "张三", "李四", "王五", "孙七"]
    assert record["photographers"] == ["赵六", "孙七"]
    assert "新华社记者" not in record["body"] and "文/图 孙七" not in record["body"]
    assert record["body"][0].startswith("新华社南京4月24日电（记者宋晨、田中全）连日来")


@pytest.mark.parametrize(("paragraph", "authors", "photographers"), [
    ("本报讯（记者叶婉）近日，项目启动。", ["叶婉"], []),
    ("本報訊(記者葉婉)近日，項目啟動。", ["葉婉"], []),
    ("人民网南京5月9日电 （记者栗翘楚）记者今日获悉。", ["栗翘楚"], []),
    ("新华社北京4月24日电（记者宋晨、田中全）4月24日。", ["宋晨", "田中全"], []),
    ("造福全人类。（记者宋晨、田中全、胡喆、侯文坤）", ["宋晨", "田中全", "胡喆", "侯文坤"], []),
    ("可以认领。（记者 张三 通讯员 李四 实习生 王五）", ["张三", "李四", "王五"], []),
    ("在社区服务（新华社记者 赵六 摄）", [], ["赵六"]),
    ("现场（本报记者 王 芳 摄）", [], ["王芳"]),
    ("会议现场。（文/图 孙七）", ["孙七"], ["孙七"]),
    ("新华社北京4月24日电　题：促进航天技术更好惠及人民", [], []),
    ("通讯员刘堃介绍，下一步将把服务团经验向全区推广。", [], []),
])
def test_byline_inside_a_paragraph(paragraph: str, authors: list[str],
                                   photographers: list[str]) -> None:
    assert body_byline(paragraph) == (authors, photographers)


@pytest.mark.parametrize(("paragraph", "people"), [
    ("□ 本报记者 葛灵丹", (["葛灵丹"], [])),
    ("本报记者  王乐文  方  敏", (["王乐文", "方敏"], [])),
    ("新华社记者", ([], [])),
    ("新华社记者 张三 李四", (["张三", "李四"], [])),
    ("文/图 孙七", (["孙七"], ["孙七"])),
    ("记者陈洁 通讯员苏建宣", (["陈洁", "苏建宣"], [])),
    ("摄影：鲁茂亮", ([], ["鲁茂亮"])),
    ("（记者 陈洁 通讯员 苏建宣）", None),  # closes the text as printed: stays text
    ("记者了解到，该项目将于明年完工。", None),
    ("通讯员刘堃介绍，下一步将推广。", None),
    ("文静同志在会上发言", None),
])
def test_credit_line(paragraph: str, people: tuple[list[str], list[str]] | None) -> None:
    assert credit_line(paragraph) == people


def test_padded_names_in_the_author_line() -> None:
    assert author_line("本报记者  王乐文  方  敏") == (["王乐文", "方敏"], [])
    assert author_line("记者 李 明 王 芳") == (["李明", "王芳"], [])


def test_damaged_names_are_read_up_to_the_damage() -> None:
    record, _ = parsed("damaged_byline.html")
    assert record["authors"] == ["宋晨", "田中全"]
    assert record["body"][-1].endswith("（记者宋晨、田中全、胡\ufffd础⒑钗睦ぃ\ufffd")
    assert editors_from("(责编：牛镛、岳\ufffd)") == ["牛镛"]


# --- editors in every template and in the fallback ---------------------------------

EDITOR_FORMS = [
    '<div class="edit cf">(责编：高雨、徐倩)</div>',
    '<div class="editor">(责编：高雨、徐倩)</div>',
    '<div id="p_editor">(责任编辑：高雨、徐倩)</div>',
    "<p>(责编：高雨、徐倩)</p>",
    "<p>（责任编辑：高雨 徐倩）</p>",
]
EDITOR_LINES = {
    "xinhua_bylines.html": ('<div class="edit cf">(责编：牛镛、岳弘彬)</div>', "rm_txt"),
    "health_channel.html": ('<div class="editor">(责编：郝帅、杨迪)</div>', "channel_2016"),
    "unknown_layout.html": ('<div class="editor">(责编：高雨、徐倩)</div>', "fallback"),
    "before_2013.html": ('<div id="p_editor">(责任编辑：王婧)</div>', "p_"),
}


@pytest.mark.parametrize("form", EDITOR_FORMS)
@pytest.mark.parametrize("name", sorted(EDITOR_LINES))
def test_editors_from_any_editor_line(name: str, form: str) -> None:
    original, extractor = EDITOR_LINES[name]
    encoding = "gb18030" if name == "before_2013.html" else "utf-8"
    text = page_bytes(name).decode(encoding)
    assert original in text
    text = text.replace(original, form)  # where this layout writes its editor line
    record, used = parsed(name, text.encode(encoding))
    assert used == extractor
    assert record["editors"] == ["高雨", "徐倩"]
    assert not any("责编" in paragraph or "责任编辑" in paragraph for paragraph in record["body"])


# --- other layouts -----------------------------------------------------------------


def test_the_health_channel_layout() -> None:
    record, extractor = parsed("health_channel.html")
    assert extractor == "channel_2016"
    assert (record["title"], record["published_at"]) == (
        "社区开展青少年心理健康讲座", "2024-05-17T08:59:00+08:00")
    assert (record["source"], record["source_url"]) == (
        "北京青年报", "http://epaper.ynet.com/html/2024-05/17/content_1.htm")
    assert record["editors"] == ["郝帅", "杨迪"] and record["authors"] == ["叶婉"]
    assert len(record["body"]) == 2 and "健康排行" not in " ".join(record["body"])


def test_the_fallback_finds_editors_and_bylines() -> None:
    record, extractor = parsed("unknown_layout.html")
    assert extractor == "fallback"
    assert record["editors"] == ["高雨", "徐倩"] and record["authors"] == ["王晓晴"]
    assert record["published_at"] == "2024-06-01T10:15:00+08:00"
    assert len(record["body"]) == 3


# --- pages of pictures only --------------------------------------------------------


def test_a_picture_only_article_over_two_pages_is_merged_whole() -> None:
    pages = [parsed("gallery-1.html")[0], parsed("gallery-2.html")[0]]
    assert all(page["body"] == [] and len(page["images"]) == 1 for page in pages)
    assert [page["page_count"] for page in pages] == [2, 2]
    merged = merge_pages([page for page in reversed(pages)])
    assert merged["body"] == []
    assert [image["src"].rsplit("/", 1)[1] for image in merged["images"]] == [
        "LOCAL202403010900000001.jpg", "LOCAL202403010900000002.jpg"]


def test_a_page_with_neither_text_nor_pictures_is_refused() -> None:
    with pytest.raises(ExtractionError, match="body is empty"):
        parsed("no_text_no_pictures.html")


# --- pages before 2013 -------------------------------------------------------------


@pytest.mark.parametrize(("url", "edition", "page"), [
    (f"{JS}/GB/360300/14578293.html", "gb", 1),
    (f"{JS}/BIG5/360300/14578293.html", "big5", 1),
    (f"{JS}/GB/360300/14578293-2.html", "gb", 2),
    (f"{JS}/GB/361417/361420/14578293.html", "gb", 1),
])
def test_urls_before_2013_are_article_urls(url: str, edition: str, page: int) -> None:
    article = parse_article_url(url)
    assert article is not None
    assert (article.article_id, article.edition, article.page, article.date) == (
        "14578293", edition, page, None)
    assert article.in_edition("big5").startswith(f"{JS}/BIG5/")
    assert article.in_edition("gb").startswith(f"{JS}/GB/")
    assert article.page_url(2).endswith("/14578293-2.html")
    assert parse_list_url(url) is None


def test_list_pages_are_not_article_urls() -> None:
    for url in (f"{JS}/GB/360300/index.html", f"{JS}/GB/360300/index2.html", f"{JS}/GB/360300/"):
        assert parse_article_url(url) is None and parse_list_url(url) is not None


def test_an_article_before_2013_parses_with_the_id_from_its_path() -> None:
    record, extractor = parsed("before_2013.html")
    assert extractor == "p_"
    assert (record["article_id"], record["column_id"], record["edition"]) == (
        "14578293", "360300", "gb")
    assert record["published_at"] == "2011-03-08T09:30:00+08:00"
    assert "王喆同志作了发言" in record["body"][1]  # GBK-only 喆 under a GB2312 declaration


# --- notices -----------------------------------------------------------------------


def test_a_block_page_served_with_200_is_refused_as_blocked() -> None:
    with pytest.raises(Blocked) as refusal:
        parsed("block_page.html")
    assert refusal.value.kind == "blocked" and "访问过于频繁" in refusal.value.reason


def test_a_deletion_notice_in_the_site_layout_is_refused_as_deleted() -> None:
    with pytest.raises(Deleted) as refusal:
        parsed("deleted_in_layout.html")
    assert refusal.value.kind == "deleted"


@pytest.mark.parametrize("notice", [
    "<h1>Access Denied</h1><p>You don't have permission to access this server.</p>",
    "<h1>429 Too Many Requests</h1>",
    "<p>请输入验证码后继续访问</p>",
    "<div class='title'>网站防火墙</div><p>您的请求带有不合法参数，已被网站管理员设置拦截！</p>",
])
def test_block_pages_of_other_makers_are_blocked(notice: str) -> None:
    body = f"<html><head><title>提示</title></head><body>{notice}</body></html>".encode()
    with pytest.raises(Blocked):
        parse_document(body, URLS["block_page.html"], "text/html")


def test_an_article_that_quotes_a_notice_is_an_article() -> None:
    record, _ = parsed("quotes_a_block_notice.html")
    assert any("访问过于频繁" in paragraph for paragraph in record["body"])


def test_the_fallback_refuses_a_thin_page_without_a_template() -> None:
    body = ("<html><head><title>江苏新闻--人民网</title></head><body><h1>江苏新闻</h1>"
            "<div class='x'><p>2024年06月01日10:15 这里只有一行字。</p></div></body></html>")
    with pytest.raises(NotAnArticle):
        parse_document(body.encode(), URLS["unknown_layout.html"], "text/html")
    assert not isinstance(_refusal(body), (Blocked, Deleted))


def _refusal(body: str) -> Exception:
    try:
        parse_document(body.encode(), URLS["unknown_layout.html"], "text/html")
    except Exception as error:
        return error
    raise AssertionError("parsed")


def test_pattern_pages_hold_no_text_of_the_real_pages() -> None:
    """Our fixtures are ours: none repeats a sentence of the real pages' bodies."""
    real = Path(__file__).resolve().parents[2] / "shared" / "reference" / "real" / "pages"
    if not real.exists():
        pytest.skip(f"{real} is absent")
    theirs = " ".join(path.read_text("utf-8") for path in real.glob("*.html"))
    for path in PATTERNS.glob("*.html"):
        encoding = "gb18030" if path.name == "before_2013.html" else "utf-8"
        for sentence in re.findall(r"[\u4e00-\u9fff，“”]{20,}", path.read_bytes().decode(encoding)):
            assert sentence not in theirs, (path.name, sentence)


# --- through a real crawl ----------------------------------------------------------


def test_a_crawl_follows_links_to_old_urls_and_archives_galleries_whole(
        tmp_path: Path) -> None:
    """A list page linking to an article from before 2013 and to a picture-only
    article over two pages: the crawl archives both, the gallery with both pictures."""
    from tests.support.cli import crawl, export_jsonl
    from tests.support.reference import SITE
    from tests.support.replay import ReplayServer

    list_page = f"{JS}/GB/360300/index.html"
    items = "".join(
        f"<li><a href='{path}' target=_blank>{title}</a><em>{day}</em></li>\n"
        for path, title, day in (
            ("/GB/360300/14578293.html", "省建设厅召开机关党建工作会议", "2011-03-08"),
            ("/n2/2024/0301/c360300-40250001.html", "一图读懂", "2024-03-01")))
    listing = (SITE / "js.people.com.cn/GB/360300/index.html").read_bytes().replace(
        b'<ul class="list_16 mt10">\n', b'<ul class="list_16 mt10">\n' + items.encode("gb18030"),
        1)
    html = {"Content-Type": "text/html"}
    db = tmp_path / "archive.db"
    with ReplayServer(SITE) as server:
        server.add_page(list_page, listing, headers=html)
        server.add_page(URLS["before_2013.html"], page_bytes("before_2013.html"), headers=html)
        for name in ("gallery-1.html", "gallery-2.html"):
            server.add_page(URLS[name], page_bytes(name), headers=html)
        result = crawl(db, server)
        assert result.returncode == 0, result.stderr
    records = {record["article_id"]: record for record in export_jsonl(db)}
    old = records["14578293"]
    assert old["title"] == "省建设厅召开机关党建工作会议" and old["url"] == URLS["before_2013.html"]
    gallery = records["40250001"]
    assert gallery["body"] == [] and gallery["pages"] == [URLS["gallery-1.html"],
                                                          URLS["gallery-2.html"]]
    assert len(gallery["images"]) == 2
