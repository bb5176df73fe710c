"""``pdarchive serve`` in a real headless Chromium, while a crawl writes the same archive.

The archive starts with the newest list page of the column; a second crawl, slowed by
the replay server's latency, adds the rest while the browser searches, filters by a
facet and reads articles, and a poller fetches the JSON API. Neither side may see an
error. Screenshots go to artifacts/ at the repository root.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from archive.textnorm import normalise
from tests.support.browser import needs_chromium, screenshot, start_chromium
from tests.support.cli import crawl
from tests.support.oracle import EXPECTED, SEED, has
from tests.support.reference import CRAWL_CONFIG, SITE
from tests.support.replay import ReplayServer
from tests.support.serving import Server, served

QUERY = "黨建"

pytestmark = needs_chromium


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    driver = start_chromium(tmp_path / "chromium", height=1400, logs=["performance"])
    try:
        yield driver
    finally:
        driver.quit()


def statuses(driver: WebDriver, server: Server) -> list[tuple[int, str]]:
    """HTTP status of every response the browser got from the server since last asked."""
    seen = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.responseReceived":
            response = message["params"]["response"]
            if response["url"].startswith(server.url):
                seen.append((response["status"], response["url"]))
    return seen


def wanted_ids(year: str = "") -> set[str]:
    return {a["article_id"] for a in EXPECTED
            if has(a, "党建") and a["published_at"].startswith(year)}


def search(driver: WebDriver, server: Server, *, complete: bool) -> list[str]:
    """Search from the form; check every result; returns the article ids listed."""
    driver.get(f"{server.url}/archive/search")
    box = driver.find_element(By.ID, "pd-q")
    box.send_keys(QUERY)
    box.submit()
    WebDriverWait(driver, 20).until(expected_conditions.url_contains("q="))
    results = driver.find_elements(By.CSS_SELECTOR, "li.pd-result")
    ids = []
    for result in results:
        link = result.find_element(By.CSS_SELECTOR, "a.pd-result-title")
        ids.append(link.get_attribute("href").rsplit("/", 1)[1].split("?")[0])
        assert "简体" in result.find_element(By.CSS_SELECTOR, ".pd-result-meta").text
        marks = [mark.text for mark in result.find_elements(By.CSS_SELECTOR, ".pd-snippet mark")]
        assert marks and all(normalise(mark) == "党建" for mark in marks), result.text
    assert set(ids) == wanted_ids() if complete else set(ids) <= wanted_ids()
    assert len(ids) == len(set(ids))
    return ids


def narrow_by_year(driver: WebDriver, year: str, *, complete: bool) -> None:
    """On the search page, through the year facet, to one year of the results."""
    facet = driver.find_element(By.CSS_SELECTOR, ".pd-facet[data-facet=年份]")
    facet.find_element(By.PARTIAL_LINK_TEXT, f"{year}年").click()
    WebDriverWait(driver, 20).until(expected_conditions.url_contains(f"since={year}-01-01"))
    dates = [node.get_attribute("datetime")
             for node in driver.find_elements(By.CSS_SELECTOR, ".pd-result-meta time")]
    ids = {node.get_attribute("data-article-id")
           for node in driver.find_elements(By.CSS_SELECTOR, "li.pd-result")}
    assert dates and all(date.startswith(year) for date in dates)
    assert ids == wanted_ids(year) if complete else ids <= wanted_ids(year)
    shown = int(driver.find_element(By.CSS_SELECTOR, ".pd-total").get_attribute("data-total"))
    assert shown == len(ids) if len(ids) < 20 else shown >= len(ids)


def read_article(driver: WebDriver, server: Server, article_id: str) -> None:
    """From the search page, open an article; check it against the reference parse."""
    article = next(a for a in EXPECTED if a["article_id"] == article_id)
    driver.get(f"{server.url}/archive/search?q={quote(QUERY)}")
    driver.find_element(By.CSS_SELECTOR, f"a.pd-result-title[href$='/{article_id}']").click()
    heading = WebDriverWait(driver, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".pd-article h1")))
    assert heading.text == article["title"]
    shown = driver.find_elements(By.CSS_SELECTOR, ".pd-body p, .pd-body figcaption")
    assert [node.text for node in shown] == article["body"]
    editors = driver.find_element(By.CSS_SELECTOR, ".pd-editors").text
    assert editors == f"(责编：{'、'.join(article['editors'])})"
    original = driver.find_element(By.CSS_SELECTOR, ".pd-original a")
    assert original.get_attribute("href") == article["url"]


def start_crawl(db: Path, proxy: ReplayServer) -> subprocess.Popen[str]:
    env = proxy.client_env()
    return subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "crawl", "--db", str(db), "--column", "360300",
         "--config", str(CRAWL_CONFIG), "--edition", "gb", "--edition", "big5"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def poll_api(server: Server, article_id: str, stop: threading.Event,
             answers: list[tuple[int, str]]) -> None:
    """Fetch the API over and over: a search, a faceted table, an article, a CSV."""
    paths = [f"/archive/search.json?q={quote(QUERY)}&_shape=array",
             f"/archive/search.json?q={quote(QUERY)}",
             f"/archive/articles.json?_search={quote(QUERY)}&_facet=source",
             f"/archive/articles/{article_id}.json", "/archive/articles.csv?_size=max"]
    while not stop.is_set():
        for path in paths:
            try:
                status, body = server.get(path)
                if path.endswith("array"):
                    json.loads(body)  # whole, parseable answers only
            except (OSError, ValueError) as error:
                status, path = 0, f"{path}: {error!r}"
            answers.append((status, path))


def test_browse_search_facet_and_read_while_a_crawl_writes(tmp_path: Path,
                                                          browser: WebDriver) -> None:
    db = tmp_path / "archive.db"
    with ReplayServer(SITE) as replay:
        first = crawl(db, replay, "--max-list-pages", "1")
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(db) as connection:
        archived = connection.execute("SELECT article_id FROM articles LIMIT 1").fetchone()[0]

    with served(db) as server, ReplayServer(SITE, latency=0.4) as slow:
        answers: list[tuple[int, str]] = []
        stop = threading.Event()
        poller = threading.Thread(target=poll_api, args=(server, archived, stop, answers))
        crawler = start_crawl(db, slow)
        poller.start()
        rounds_during_crawl = 0
        responses = []
        try:
            while crawler.poll() is None:
                ids = search(browser, server, complete=False)
                narrow_by_year(browser, "2023", complete=False)
                read_article(browser, server, ids[0])
                rounds_during_crawl += crawler.poll() is None
                responses += statuses(browser, server)
        finally:
            stop.set()
            poller.join(timeout=60)
            _, err = crawler.communicate(timeout=120)
        assert crawler.returncode == 0, err
        assert "Traceback" not in err and "locked" not in err, err
        assert rounds_during_crawl >= 1, "the crawl ended before the browser finished a round"

        # the crawl is over: the whole column is there
        search(browser, server, complete=True)
        screenshot(browser, "serve-search.png")
        narrow_by_year(browser, "2021", complete=True)
        screenshot(browser, "serve-facets.png")
        read_article(browser, server, SEED)
        assert browser.find_element(By.CSS_SELECTOR, ".pd-body figure img").get_attribute("src")
        screenshot(browser, "serve-article.png")

        responses += statuses(browser, server)
        assert responses and [(status, url) for status, url in responses if status >= 400] == []
        assert answers and [answer for answer in answers if answer[0] != 200] == []
        assert server.errors() == []


def test_the_archive_not_the_live_site_pictures_and_captures(tmp_path: Path,
                                                            browser: WebDriver) -> None:
    """With the site gone (the replay server stopped): the article page shows its
    archived picture and says which one was never archived; its captures open as they
    were fetched, in a sandboxed frame where the page's own script never runs."""
    seed_url = next(a["url"] for a in EXPECTED if a["article_id"] == SEED)
    db = tmp_path / "archive.db"
    with ReplayServer(SITE) as replay:
        page = replay.page(seed_url)
        marker = b"<script>document.body.setAttribute('data-ran', 'yes')</script>"
        lost = b'<p style="text-align: center;"><img src="/NMediaFile/2020/1019/GONE.jpg"></p>'
        body = page.body.replace(b"</body>", marker + b"</body>", 1)
        body = body.replace(b'<div class="edit', lost + b'<div class="edit', 1)
        assert body.count(b"data-ran") == 1 and b"GONE.jpg" in body
        replay.add_page(seed_url, body, headers=page.headers)
        result = crawl(db, replay)
        assert result.returncode == 0, result.stderr
    with served(db) as server:
        browser.get(f"{server.url}/archive/articles/{SEED}")
        picture = browser.find_element(By.CSS_SELECTOR, ".pd-body figure img")
        assert picture.get_attribute("src").startswith(f"{server.url}/-/pdarchive-picture/")
        WebDriverWait(browser, 20).until(
            lambda driver: driver.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0", picture))
        missing = browser.find_element(By.CSS_SELECTOR, ".pd-picture-missing")
        assert "图片未存档" in missing.text and "GONE.jpg" in missing.text
        screenshot(browser, "serve-article-archived-picture.png")

        browser.find_element(By.CSS_SELECTOR, "a.pd-captures").click()
        WebDriverWait(browser, 20).until(expected_conditions.url_contains("pdarchive-captures"))
        links = browser.find_elements(By.CSS_SELECTOR, "a.pd-capture-link")
        assert links, "no capture listed"
        links[0].click()
        frame = WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "iframe.pd-capture")))
        assert frame.get_attribute("sandbox") == ""
        time.sleep(1)  # a script that could run would have run by now
        screenshot(browser, "serve-capture.png")
        browser.switch_to.frame(frame)
        assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-ran") is None
        assert "江苏住建行业党委" in browser.find_element(By.TAG_NAME, "body").text
        browser.switch_to.default_content()
        errors = server.errors()
        assert errors == [], "".join(errors)
