"""What every pdarchive spider shares: politeness taken from the TOML configuration."""

from __future__ import annotations

import scrapy
from scrapy.settings import BaseSettings

from crawler.config import load_config


class ConfiguredSpider(scrapy.Spider):
    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Politeness settings from the TOML configuration (``-s`` still wins)."""
        super().update_settings(settings)
        config = load_config(settings.get("PDARCHIVE_CONFIG"))
        settings.setdict({
            "DOWNLOAD_DELAY": config.delay,
            "CONCURRENT_REQUESTS_PER_DOMAIN": config.concurrent_per_host,
            "AUTOTHROTTLE_ENABLED": config.autothrottle,
            "AUTOTHROTTLE_START_DELAY": max(config.delay, 0.1),
            "ROBOTSTXT_OBEY": config.obey_robots_txt,
            "USER_AGENT": config.user_agent,
            "DOWNLOAD_TIMEOUT": config.timeout,
            "DOWNLOAD_MAXSIZE": config.max_response_bytes,
            "RETRY_TIMES": config.retries,
            "RETRY_BACKOFF_BASE": config.backoff_base,
        }, priority="spider")
