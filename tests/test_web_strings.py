"""Every page string exists in both languages, and every key a page names statically is defined."""

from __future__ import annotations

import re
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web"
KEY = re.compile(r'^\s*"?([^"\s:]+)"?\s*:\s*["`]', re.M)


def _dicts(source: str) -> dict[str, set[str]]:
    """Keys of each language block in a STRINGS = { "zh-CN": {...}, en: {...} } literal."""
    zh_start = source.index('"zh-CN": {')
    en_start = source.index("\n  en: {", zh_start)
    end = source.index("\n};", en_start)
    return {
        "zh-CN": set(KEY.findall(source[zh_start + 10 : en_start])),
        "en": set(KEY.findall(source[en_start + 8 : end])),
    }


def test_both_languages_have_the_same_keys() -> None:
    langs = _dicts((WEB / "static" / "js" / "i18n.js").read_text("utf-8"))
    assert len(langs["zh-CN"]) > 50
    assert langs["zh-CN"] - langs["en"] == set()
    assert langs["en"] - langs["zh-CN"] == set()


def test_static_keys_used_by_pages_are_defined() -> None:
    keys = _dicts((WEB / "static" / "js" / "i18n.js").read_text("utf-8"))["zh-CN"]
    review = (WEB / "static" / "js" / "review_i18n.js").read_text("utf-8")
    keys |= set(KEY.findall(review))
    used: set[str] = set()
    for page in ("login.html", "sales.html", "call.html", "join.html"):
        used |= set(re.findall(r'data-i18n(?:-[a-z]+)?="([^"]+)"', (WEB / page).read_text("utf-8")))
    for script in ("login.js", "sales.js", "call.js", "join.js"):
        text = (WEB / "static" / "js" / script).read_text("utf-8")
        used |= set(re.findall(r'\b(?:t|setText\([^,]+,)\s*\(?\s*"([a-z_]+\.[a-z0-9_.]+)"', text))
        used |= set(re.findall(r'i18n: \["([a-z_]+\.[a-z0-9_.]+)"', text))
    assert used, "no keys found: the patterns no longer match the pages"
    assert used - keys == set()
