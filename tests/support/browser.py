"""Debian's headless Chromium under Selenium, for the tests of the browser view."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: where screenshots go: artifacts/ at the repository root
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromedriver (apt-get install chromium chromium-driver)")


def start_chromium(profile: Path, *, height: int, logs: Sequence[str]) -> WebDriver:
    """A headless Chromium 1280 px wide with its profile in ``profile``, keeping the
    ``logs`` named (``performance``: every response; ``browser``: the console)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--no-proxy-server",
                 f"--window-size=1280,{height}", f"--user-data-dir={profile}",
                 # article images point at the real site: fail them at once, offline
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", dict.fromkeys(logs, "ALL"))
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    return driver


def screenshot(driver: WebDriver, name: str) -> None:
    """The whole page (up to 6000 px), not just the window, into artifacts/NAME."""
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    page_height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height, page_height + 100), 6000))
    driver.save_screenshot(str(ARTIFACTS / name))
    driver.set_window_size(width, height)
