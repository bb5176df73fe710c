"""Recognise the notices a site serves instead of a page: blocks and deletions.

A block or rate-limit page ("访问过于频繁") often comes with HTTP 200, and a
deletion notice ("该文章已删除") may even sit inside the site's own article layout.
Wording alone is weak evidence (an article may quote it), so a notice is only ever
recognised where it dominates a short page: in its title or headings, on a page
whose text is short, or anywhere on a page whose text is very short. A real
article's text runs to hundreds of characters, a notice's to a few dozen. The
vocabulary is that of the block pages of Chinese web firewalls and CDNs (Aliyun,
Tencent Cloud, 安全狗, 创宇盾, nginx's rate limiting) and of people.com.cn's own
notices, in both scripts.
"""

from __future__ import annotations

import re

from .errors import Blocked, Deleted, NotAnArticle

#: a page whose text is longer than this is never taken for a notice
MAX_NOTICE_CHARS = 600
#: below this, notice wording anywhere in the text makes the page a notice
MAX_BARE_NOTICE_CHARS = 100

_BLOCKED = re.compile(
    r"访问过于频繁|訪問過於頻繁|访问频率过高|訪問頻率過高|请求过于频繁|請求過於頻繁|"
    r"操作过于频繁|操作過於頻繁|访问受限|訪問受限|禁止访问|禁止訪問|拒绝访问|拒絕訪問|"
    r"访问被拒绝|訪問被拒絕|访问已被拦截|访问被拦截|請求已被攔截|请求已被拦截|已被封禁|"
    r"封禁|IP\s*已被|安全验证|安全驗證|人机验证|人機驗證|滑动验证|滑動驗證|请输入验证码|"
    r"請輸入驗證碼|疑似攻击|疑似攻擊|网站防火墙|網站防火牆|"
    r"access denied|forbidden|too many requests|rate limit|captcha|are you a robot|"
    r"request blocked|been blocked|web application firewall",
    re.IGNORECASE,
)
_DELETED = re.compile(
    r"(?:文章|稿件|内容|內容|信息|資訊|页面|頁面|新闻|新聞)[^。！!，,]{0,6}"
    r"(?:已被?删除|已被?刪除|已下线|已下線|已撤[稿回下]|不存在|已过期|已過期)|已撤稿",
)


def _found(pattern: re.Pattern[str], heading: str, text: str) -> re.Match[str] | None:
    if len(heading) + len(text) > MAX_NOTICE_CHARS:
        return None
    in_heading = pattern.search(heading)
    if in_heading:
        return in_heading
    return pattern.search(text) if len(heading) + len(text) <= MAX_BARE_NOTICE_CHARS else None


def notice_refusal(heading: str, text: str) -> NotAnArticle | None:
    """A ``Blocked`` or ``Deleted`` refusal when a page whose title and headings read
    ``heading`` and whose main text (as a reader sees it) reads ``text`` is a notice,
    else None."""
    heading, text = heading.strip(), text.strip()
    blocked = _found(_BLOCKED, heading, text)
    if blocked:
        return Blocked(f"the site served a block page (\"{blocked[0]}\") instead of the page")
    deleted = _found(_DELETED, heading, text)
    if deleted:
        return Deleted(f"the site says the page is gone (\"{deleted[0]}\")")
    return None
