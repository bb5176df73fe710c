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
        settings.setdict(config.scrapy_settings(), priority="spider")
