"""Turn the bytes of a page into text without mojibake.

w3lib reads the declarations (HTTP header, BOM, ``<meta>``) and maps GB2312/GBK to
GB18030 and BIG5 to big5hkscs; what it does not do is distrust a declaration, and
people.com.cn serves pages saved as UTF-8 that still declare GB2312. So the order of
the candidates and the check of each against the bytes are ours.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

# Tried in this order when nothing is declared or every declaration is contradicted.
_FALLBACK_ENCODINGS = ("utf-8", "gb18030", "big5hkscs")

# GB18030 and BIG5 accept almost any byte pair, so a page decoded with the other
# one's codec decodes "cleanly" into nonsense: BIG5 read as GB18030 turns common
# characters into kana, Greek, Cyrillic, box drawing and private-use code points,
# which a Chinese news page hardly ever holds. Above this share of the non-ASCII
# characters, a legacy decoding is taken for mojibake and the next candidate tried.
_MOJIBAKE = re.compile("[\u0370-\u04ff\u2500-\u257f\u3040-\u312f\uac00-\ud7af\ue000-\uf8ff]")
_MOJIBAKE_SHARE = 0.05


@dataclass(frozen=True)
class DecodedPage:
    text: str
    encoding: str
    #: where the encoding came from: "http-header", "bom", "meta", "bytes" (detected)
    declared_by: str


def _normalise(name: str | None) -> str | None:
    if not name:
        return None
    resolved = resolve_encoding(name)
    if resolved is None:
        return None
    return codecs.lookup(resolved).name


def _strict_decode(body: bytes, encoding: str) -> str | None:
    """``body`` decoded, or None if it does not decode, or decodes into mojibake."""
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    # Counted only when there is any: most pages have none, and counting the
    # non-ASCII characters of every GB18030 page was a tenth of its parse.
    if encoding != "utf-8" and _MOJIBAKE.search(text):
        non_ascii = len(text) - len(text.encode("ascii", "ignore"))
        if len(_MOJIBAKE.findall(text)) > _MOJIBAKE_SHARE * non_ascii:
            return None
    return text


def _as_utf8_with_multibyte(body: bytes) -> str | None:
    """``body`` decoded when it is valid UTF-8 that is not plain ASCII: GB18030 or
    BIG5 text essentially never is."""
    if body.isascii():
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def decode_page(body: bytes, content_type: str | None = None) -> DecodedPage:
    """Decode ``body``: HTTP header, then BOM, then ``<meta>``, each checked against
    the bytes; a contradicted declaration falls through to the next candidate."""
    bom_encoding, bom = read_bom(body)
    bom = bom or b""
    if bom_encoding:
        bom_encoding = codecs.lookup(bom_encoding).name
    candidates: list[tuple[str, str]] = []
    header = _normalise(http_content_type_encoding(content_type)) if content_type else None
    if header:
        candidates.append((header, "http-header"))
    if bom_encoding:
        candidates.append((bom_encoding, "bom"))
    meta = _normalise(html_body_declared_encoding(body))
    if meta:
        candidates.append((meta, "meta"))

    for encoding, declared_by in candidates:
        payload = body[len(bom):] if declared_by == "bom" or encoding == bom_encoding else body
        utf8 = _as_utf8_with_multibyte(payload) if encoding != "utf-8" else None
        if utf8 is not None:
            # A page saved as UTF-8 that still declares a legacy charset.
            return DecodedPage(utf8, "utf-8", "bytes")
        text = _strict_decode(payload, encoding)
        if text is not None:
            return DecodedPage(text, encoding, declared_by)

    payload = body[len(bom):]
    for encoding in _FALLBACK_ENCODINGS:
        text = _strict_decode(payload, encoding)
        if text is not None:
            return DecodedPage(text, encoding, "bytes")
    # Nothing decodes cleanly: keep the most likely reading, marking bad bytes.
    encoding = candidates[0][0] if candidates else "gb18030"
    return DecodedPage(payload.decode(encoding, errors="replace"), encoding, "lossy")
