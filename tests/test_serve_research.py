"""The search page as a researcher uses it, in a real headless Chromium, on an archive
of 600+ articles: the reference column (both editions, crawled from the mirror)
beside 620 synthetic articles, and one hostile page.

Every total is checked against the substring oracle (tests/support/oracle.py) over the
archive's own export; every match must be on exactly one page; filters are set
through the form's controls; the hostile page's ``javascript:`` source link and the
``<script>`` in its text must never run. One browser session for the module.
Screenshots (desktop and 390 px) go to artifacts/.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from archive.store import Archive
from crawler.parse import parse_page
from tests.support.browser import needs_chromium, screenshot, start_chromium
from tests.support.cli import crawl, export_jsonl
from tests.support.oracle import SEED, oracle
from tests.support.reference import SITE
from tests.support.replay import ReplayServer
from tests.support.serving import Server, served
from tests.support.synthetic import ensure_archive

#: one worker runs the module (tests/conftest.py: ONE_WORKER_MODULES): its archive and
#: its browser session are built once
pytestmark = needs_chromium

SYNTHETIC = 620
HOSTILE_ID = "99999001"
HOSTILE_URL = f"http://js.people.com.cn/n2/2020/1019/c360300-{HOSTILE_ID}.html"
SEED_PAGE = SITE / "js.people.com.cn" / "n2" / "2020" / "1019" / "c360300-34359164.html"
INJECTED = "&lt;script&gt;document.title='PWNED2'&lt;/script&gt;" \
           "&lt;img src=x onerror=&quot;document.title='PWNED3'&quot;&gt;"


def hostile_record() -> dict[str, Any]:
    """The seed page with a javascript: source link and markup written as text."""
    text = SEED_PAGE.read_bytes().decode("gbk")
    text = text.replace('来源：<a href="http://js.people.com.cn/"',
                        '来源：<a href="javascript:document.title=\'PWNED\'"')
    body = text.find("2015年9月，经江苏省委同意", text.find("rwb_zw"))
    text = text[:body] + text[body:].replace("2015年9月，", f"2015年9月{INJECTED}，", 1)
    record = parse_page(text.encode("gbk"), HOSTILE_URL)
    assert record["source_url"].startswith("javascript:")
    assert any("<script>" in paragraph for paragraph in record["body"])
    record["pages"] = [record["url"]]
    return record


@pytest.fixture(scope="module")
def research_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = ensure_archive(SYNTHETIC, tmp_path_factory.mktemp("research") / "archive.db")
    with ReplayServer(SITE) as server:
        result = crawl(db, server, "--edition", "gb", "--edition", "big5")
    assert result.returncode == 0, result.stderr
    archive = Archive(db)
    try:
        archive.save_article(hostile_record(), [], run_id=None)
    finally:
        archive.close()
    return db


@pytest.fixture(scope="module")
def articles(research_db: Path) -> list[dict[str, Any]]:
    records = export_jsonl(research_db)
    assert len(records) >= 600
    return records


@pytest.fixture(scope="module")
def server(research_db: Path) -> Iterator[Server]:
    with served(research_db) as running:
        yield running
    assert running.errors() == []


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium"), height=1000, logs=["browser"])
    try:
        yield driver
    finally:
        driver.quit()


def phone(driver: WebDriver) -> None:
    driver.set_window_size(390, 844)


def desktop(driver: WebDriver) -> None:
    driver.set_window_size(1280, 1000)


def open_search(driver: WebDriver, server: Server, **params: str) -> None:
    query = "&".join(f"{name}={quote(value)}" for name, value in params.items())
    driver.get(f"{server.url}/archive/search?{query}")


def total(driver: WebDriver) -> int:
    return int(driver.find_element(By.CSS_SELECTOR, ".pd-total").get_attribute("data-total"))


def listed(driver: WebDriver) -> list[str]:
    return [item.get_attribute("data-article-id")
            for item in driver.find_elements(By.CSS_SELECTOR, "li.pd-result")]


def args(driver: WebDriver) -> dict[str, list[str]]:
    return parse_qs(urlsplit(driver.current_url).query)


def submit(driver: WebDriver) -> None:
    old = driver.current_url
    driver.find_element(By.CSS_SELECTOR, ".pd-search-form button[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: d.current_url != old)


def in_years(articles: list[dict[str, Any]], year: str) -> set[str]:
    return {a["article_id"] for a in articles if a["published_at"].startswith(year)}


def test_the_total_is_the_oracles_and_every_match_is_on_one_page(
        browser: WebDriver, server: Server, articles: list[dict[str, Any]]) -> None:
    desktop(browser)
    wanted = oracle(articles, ["党建"])
    assert len(wanted) > 100
    browser.get(f"{server.url}/")
    box = browser.find_element(By.ID, "pd-q")
    box.send_keys("黨建")
    submit(browser)
    assert total(browser) == len(wanted)
    screenshot(browser, "research-search-desktop.png")
    desktop(browser)
    # to the last page through the pager's last number, then back page by page
    last = browser.find_elements(By.CSS_SELECTOR, ".pd-pager a.pd-page")[-1]
    pages = int(last.get_attribute("data-page"))
    assert pages == -(-len(wanted) // 20)
    last.click()
    WebDriverWait(browser, 20).until(expected_conditions.url_contains(f"page={pages}"))
    seen = listed(browser)
    assert 0 < len(seen) <= 20 and not browser.find_elements(By.CSS_SELECTOR, "a.pd-next")
    for _ in range(pages - 1):
        browser.find_element(By.CSS_SELECTOR, "a.pd-prev").click()
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".pd-results")))
        seen += listed(browser)
    assert args(browser).get("page") is None, "page 1 is the plain URL"
    assert len(seen) == len(set(seen)) == len(wanted) and set(seen) == wanted
    marks = browser.find_elements(By.CSS_SELECTOR, ".pd-snippet mark")
    assert marks and all(mark.text in ("党建", "黨建") for mark in marks)


def test_sorting_by_time(browser: WebDriver, server: Server,
                         articles: list[dict[str, Any]]) -> None:
    wanted = oracle(articles, ["党建"])
    newest = sorted((a for a in articles if a["article_id"] in wanted),
                    key=lambda a: (a["published_at"], a["article_id"]))
    open_search(browser, server, q="党建")
    browser.find_element(By.CSS_SELECTOR, "a.pd-sort-link[data-sort=newest]").click()
    WebDriverWait(browser, 20).until(expected_conditions.url_contains("sort=newest"))
    times = [node.get_attribute("datetime") for node in
             browser.find_elements(By.CSS_SELECTOR, ".pd-result-meta time")]
    assert times == sorted(times, reverse=True) and times[0] == newest[-1]["published_at"]
    assert total(browser) == len(wanted)
    browser.find_element(By.CSS_SELECTOR, "a.pd-sort-link[data-sort=oldest]").click()
    WebDriverWait(browser, 20).until(expected_conditions.url_contains("sort=oldest"))
    times = [node.get_attribute("datetime") for node in
             browser.find_elements(By.CSS_SELECTOR, ".pd-result-meta time")]
    assert times == sorted(times) and times[0] == newest[0]["published_at"]
    # the sort survives paging, and the form keeps it
    browser.find_element(By.CSS_SELECTOR, "a.pd-next").click()
    WebDriverWait(browser, 20).until(expected_conditions.url_contains("page=2"))
    assert args(browser)["sort"] == ["oldest"]
    assert Select(browser.find_element(By.NAME, "sort")).first_selected_option.text == "最早"


def test_every_filter_through_the_form(browser: WebDriver, server: Server, research_db: Path,
                                       articles: list[dict[str, Any]]) -> None:
    wanted = oracle(articles, ["党建"])
    by_id = {a["article_id"]: a for a in articles}
    open_search(browser, server, q="党建")
    # column, chosen by name
    column = Select(browser.find_element(By.NAME, "column"))
    assert "政治" in [option.text for option in column.options]
    column.select_by_visible_text("政治")
    submit(browser)
    assert args(browser)["column"] == ["360300"]
    in_column = {i for i in wanted if by_id[i]["column_id"] == "360300"}
    assert total(browser) == len(in_column) > 0
    assert {node.text for node in browser.find_elements(By.CSS_SELECTOR, ".pd-result-column")
            } == {"政治"}
    # the year facet (a date range), kept when the form is sent again
    facet = browser.find_element(By.CSS_SELECTOR, ".pd-facet[data-facet=年份]")
    link = facet.find_element(By.PARTIAL_LINK_TEXT, "2021年")
    link.click()
    WebDriverWait(browser, 20).until(expected_conditions.url_contains("since=2021-01-01"))
    in_2021 = in_column & in_years(articles, "2021")
    assert total(browser) == len(in_2021) > 0
    submit_again = browser.current_url
    browser.find_element(By.CSS_SELECTOR, ".pd-search-form button[type=submit]").click()
    WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".pd-total")))
    assert total(browser) == len(in_2021), f"resubmitting {submit_again} kept every filter"
    assert args(browser)["until"] == ["2021-12-31"] and args(browser)["column"] == ["360300"]

    # source, in the other script and width
    open_search(browser, server, q="党建")
    source = browser.find_element(By.NAME, "source")
    source.send_keys("人民網－江蘇")
    submit(browser)
    from_source = {i for i in wanted if "人民网-江苏" in (by_id[i]["source"] or "")}
    assert total(browser) == len(from_source) > 0

    # edition
    open_search(browser, server, q="党建")
    Select(browser.find_element(By.NAME, "edition")).select_by_visible_text("繁體")
    submit(browser)
    big5 = {i for i in wanted if by_id[i]["edition"] == "big5"}
    shown = total(browser) if big5 else 0
    assert shown == len(big5)

    # topic, and a minimum score
    with sqlite3.connect(research_db) as connection:
        scores = dict(connection.execute(
            "SELECT article_id, score FROM article_topics WHERE topic = 'party-building'"))
    open_search(browser, server, q="党建")
    topic = Select(browser.find_element(By.NAME, "topic"))
    topic.select_by_index(1)
    submit(browser)
    threshold = float(browser.find_element(By.CSS_SELECTOR, "select[name=topic] option:checked")
                      .text.split("≥")[1].strip(" ）)"))
    at_threshold = {i for i in wanted if scores.get(i, -1) >= threshold}
    assert total(browser) == len(at_threshold) > 0
    score = browser.find_element(By.NAME, "min_score")
    score.send_keys("40")
    submit(browser)
    assert total(browser) == len({i for i in wanted if scores.get(i, -1) >= 40}) < len(at_threshold)

    # a bad date: said, shown, kept to correct, and nothing searched
    open_search(browser, server, q="党建", since="2020-13-45")
    message = browser.find_element(By.CSS_SELECTOR, ".pd-errors .pd-error[data-field=since]")
    assert message.is_displayed() and "2020-13-45" in message.text
    assert not browser.find_elements(By.CSS_SELECTOR, "li.pd-result")
    assert browser.find_element(By.NAME, "since").get_attribute("value") == "2020-13-45"
    screenshot(browser, "research-search-bad-date.png")
    desktop(browser)
    # a date written another way is read, not dropped
    open_search(browser, server, q="党建", since="2021年1月1日")
    assert total(browser) == len({i for i in wanted if by_id[i]["published_at"] >= "2021-01-01"})


def test_the_traditional_edition_has_traditional_labels(browser: WebDriver,
                                                        server: Server) -> None:
    browser.get(f"{server.url}/archive/articles/{SEED}?_edition=big5")
    article = browser.find_element(By.CSS_SELECTOR, ".pd-article")
    assert article.get_attribute("lang") == "zh-Hant"
    text = article.text
    assert "來源：" in text and "責編：" in text and "来源" not in text and "责编" not in text
    browser.get(f"{server.url}/archive/articles/{SEED}")
    assert "来源：" in browser.find_element(By.CSS_SELECTOR, ".pd-article").text
    assert "2020年10月19日 14:37" in browser.find_element(By.CSS_SELECTOR, ".pd-dateline").text


def test_phone_labels_and_layout(browser: WebDriver, server: Server) -> None:
    phone(browser)
    try:
        browser.get(f"{server.url}/archive/articles")
        cells = browser.find_elements(By.CSS_SELECTOR, "table.rows-and-columns tbody td")
        labels = {"col-article_id": "编号", "col-column_id": "栏目", "col-edition": "版本",
                  "col-title": "标题", "col-published_at": "发布时间", "col-source": "来源",
                  "col-editors": "责编"}
        assert cells
        for cell in cells[:70]:
            shown = browser.execute_script(
                "return getComputedStyle(arguments[0], '::before').content", cell)
            column = next(name for name in cell.get_attribute("class").split()
                          if name.startswith("col-"))
            assert shown.strip('"') == labels[column], (column, shown)
        for page in ("/", "/archive/search?q=%E5%85%9A%E5%BB%BA", f"/archive/articles/{SEED}",
                     "/archive/articles"):
            browser.get(server.url + page)
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= 390, (page, width)
        browser.get(f"{server.url}/")
        screenshot(browser, "research-home-390.png")
        phone(browser)
        browser.get(f"{server.url}/archive/search?q=%E5%85%9A%E5%BB%BA")
        screenshot(browser, "research-search-390.png")
        phone(browser)
        browser.get(f"{server.url}/archive/articles/{SEED}")
        screenshot(browser, "research-article-390.png")
    finally:
        desktop(browser)
    browser.get(f"{server.url}/")
    assert browser.find_element(By.ID, "pd-q").is_displayed()
    assert "hidden table" not in browser.page_source and "articles_fts" not in browser.page_source
    screenshot(browser, "research-home-desktop.png")
    desktop(browser)
    browser.get(f"{server.url}/archive/articles/{SEED}")
    screenshot(browser, "research-article-desktop.png")


def test_a_hostile_page_never_runs(browser: WebDriver, server: Server) -> None:
    desktop(browser)
    browser.get(f"{server.url}/archive/articles/{HOSTILE_ID}")
    assert not browser.find_elements(By.CSS_SELECTOR, "a[href^='javascript' i]")
    source = browser.find_element(By.CSS_SELECTOR, ".pd-source")
    assert source.text == "来源：人民网-江苏频道"
    source.click()
    assert "<script>document.title='PWNED2'</script>" in browser.find_element(
        By.CSS_SELECTOR, ".pd-body").text, "the markup is shown as the text it is"
    open_search(browser, server, q="PWNED2")
    assert listed(browser) == [HOSTILE_ID]
    browser.find_element(By.CSS_SELECTOR, ".pd-result .pd-snippet").click()
    browser.get(f"{server.url}/archive/articles?_search=PWNED2&_wide=1")
    assert not browser.find_elements(By.CSS_SELECTOR, "a[href^='javascript' i]")
    assert "PWNED" not in browser.title
    assert browser.execute_script("return document.title.indexOf('PWNED')") == -1
    logs = [entry["message"] for entry in browser.get_log("browser")]
    assert not [line for line in logs if "Content Security Policy" in line], logs


def test_downloads_of_every_match(server: Server, articles: list[dict[str, Any]]) -> None:
    wanted = oracle(articles, ["党建"])
    status, body = server.get("/archive/search.csv", q="党建")
    assert status == 200 and body.startswith(b"\xef\xbb\xbf")
    assert len(body.decode("utf-8-sig").strip().splitlines()) >= len(wanted) + 1
    status, body = server.get("/archive/search.json", q="党建", _shape="array")
    rows = json.loads(body)
    assert {row["article_id"] for row in rows} == wanted and len(rows) == len(wanted)
    assert b"\\u" not in body
