"""The pages' JavaScript runs on the phones customers join from (no build step).

Floor: ES2019 syntax, and no API newer than Safari 13 / Chromium 80 unless ui.js supplies it
(``replaceChildren``). One unparsable module blanks the whole page on an older phone (WeChat's
in-app browser, iOS 13), so this is checked on every file, with comments and string literals
taken out first. ``npx es-check es2019 'web/static/js/*.js' --module`` is the full check
(node needed); this test needs nothing but Python.
"""

from __future__ import annotations

import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[1] / "web"
JS = sorted((WEB / "static" / "js").glob("*.js"))

# Syntax past ES2019, as a regex on code without comments and strings.
TOO_NEW_SYNTAX = {
    "optional chaining ?. (ES2020)": re.compile(r"\?\.(?!\d)"),
    "nullish coalescing ?? (ES2020)": re.compile(r"\?\?"),
    "private class member #x (ES2022)": re.compile(r"(?<![\w$\"'])#[A-Za-z_]\w*\s*[(=;]"),
    "class static block (ES2022)": re.compile(r"\bstatic\s*\{"),
    "logical assignment (ES2021)": re.compile(r"(\|\||&&|\?\?)="),
    "numeric separator (ES2021)": re.compile(r"\b\d+_\d+\b"),
}
# APIs missing on Safari 13 / iOS 13 or Chromium 80 (older in-app browsers).
TOO_NEW_API = {
    "new EventTarget / extends EventTarget (Safari 14)": re.compile(
        r"extends\s+EventTarget|new\s+EventTarget\b"
    ),
    "String.replaceAll (Safari 13.1, Chromium 85)": re.compile(r"\.replaceAll\("),
    "Array/String .at() (Safari 15.4)": re.compile(r"\.at\(-?\d"),
    "Object.hasOwn (Safari 15.4)": re.compile(r"Object\.hasOwn\("),
    "structuredClone (Safari 15.4)": re.compile(r"\bstructuredClone\("),
    "AbortSignal.timeout (Safari 16)": re.compile(r"AbortSignal\.timeout\("),
    "findLast / toSorted (Safari 15.4 / 16)": re.compile(r"\.(findLast|findLastIndex|toSorted)\("),
    "Promise.any (Chromium 85)": re.compile(r"\bPromise\.any\("),
}
# APIs a promised browser lacks that a page may use only behind a check for them (the file
# must contain the guard): found by the audit in docs/browsers.md, each once a dead button or
# a meter that threw on an older browser (tests/test_pages_older_browsers.py shows the pages
# without them in Chromium).
GUARDED_API = {
    "<dialog> showModal (Safari 15.4, Firefox 98)": (
        re.compile(r"\.showModal\("),
        re.compile(r"HTMLDialogElement\.prototype\.showModal"),
    ),
    "AnalyserNode.getFloatTimeDomainData (Safari 14.1 / iOS 14.5)": (
        re.compile(r"\.getFloatTimeDomainData\("),
        re.compile(r"typeof \w+\.getFloatTimeDomainData"),
    ),
    "AudioContext unprefixed (Safari 14.1 / iOS 14.5)": (
        re.compile(r"\bAudioContext\b"),
        re.compile(r"\bwebkitAudioContext\b"),
    ),
    "Screen Wake Lock (Safari 16.4, Firefox 126, Chromium 84)": (
        re.compile(r"\.wakeLock\b"),
        re.compile(r"typeof \w+\.request !=="),
    ),
}


def code_only(source: str) -> str:
    """The source with comments, string and template literals blanked out (regex literals
    are left: the pages' few regexes contain none of the patterns above)."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c in "'\"`":
            j = i + 1
            while j < n and source[j] != c:
                if source[j] == "\\":
                    j += 1
                elif c == "`" and source.startswith("${", j):
                    # keep template expressions: they are code
                    depth, k = 1, j + 2
                    while k < n and depth:
                        depth += {"{": 1, "}": -1}.get(source[k], 0)
                        k += 1
                    out.append(" " + source[j + 2 : k - 1] + " ")
                    j = k - 1
                j += 1
            out.append('""')
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def offences(source: str, patterns: dict[str, re.Pattern[str]]) -> list[str]:
    code = code_only(source)
    found = []
    for what, pattern in patterns.items():
        for m in pattern.finditer(code):
            line = code.count("\n", 0, m.start()) + 1
            found.append(f"{what} near line {line}")
    return found


def test_stripper_sees_code_not_strings() -> None:
    assert offences('const a = "x ?? y"; // b?.c\n', TOO_NEW_SYNTAX) == []
    assert offences("const a = b ?? c;", TOO_NEW_SYNTAX)
    assert offences("const a = `${b?.c}`;", TOO_NEW_SYNTAX)
    assert offences("x.replaceAll('a', 'b')", TOO_NEW_API)


def test_page_scripts_parse_on_older_phones() -> None:
    assert JS
    problems = {
        path.name: offences(path.read_text("utf-8"), TOO_NEW_SYNTAX | TOO_NEW_API) for path in JS
    }
    assert {name: p for name, p in problems.items() if p} == {}


def test_newer_apis_only_behind_a_check() -> None:
    unguarded = [
        f"{path.name}: {what}"
        for path in JS
        for what, (use, guard) in GUARDED_API.items()
        if use.search(code := code_only(path.read_text("utf-8"))) and not guard.search(code)
    ]
    assert unguarded == []


def test_customer_pages_explain_an_old_browser_and_play_inline() -> None:
    for page in ("join.html", "self.html"):
        html = (WEB / page).read_text("utf-8")
        # Browsers without ES modules run legacy.js instead of showing "加载中…" for ever.
        assert re.search(r'<script nomodule[^>]*src="/static/js/legacy.js"', html), page
        for video in re.findall(r"<video[^>]*>", html):
            # iOS plays inline only with playsinline, and autoplays only muted (own camera)
            # or after a user gesture (the other party, see rtc.playWithSound).
            assert "playsinline" in video and "autoplay" in video, (page, video)
            if "local" in video:
                assert "muted" in video, (page, video)
    legacy = (WEB / "static" / "js" / "legacy.js").read_text("utf-8")
    assert not re.search(r"=>|\b(let|const|class)\b|`", code_only(legacy)), "legacy.js is ES5"


def test_no_form_can_be_sent_before_its_page_script_is_ready() -> None:
    """A module script runs after the page is shown: a submit button enabled in the HTML lets
    the browser send its form itself first (a plain POST showed the server's raw JSON; a GET
    reloaded the page and lost what was typed). Each page enables its buttons once its submit
    handler is on (tests/test_pages_slow_network.py checks it in Chromium)."""
    enabled: list[str] = []
    for page in sorted(WEB.glob("*.html")):
        html = page.read_text("utf-8")
        for form in re.findall(r"<form\b.*?</form>", html, re.S):
            for tag in re.findall(r"<(?:button|input)\b[^>]*>", form):
                found = re.search(r'\btype="([a-z]+)"', tag)
                kind = found.group(1) if found else ("submit" if tag.startswith("<b") else "text")
                if kind in ("submit", "image") and not re.search(r"\sdisabled[\s>]", tag):
                    enabled.append(f"{page.name}: {tag}")
    assert enabled == []


def test_every_page_says_when_its_script_cannot_run() -> None:
    """boot.js (after the module scripts) says when one of them never arrived; <noscript> says
    when no script runs at all (tests/test_pages_slow_network.py shows both in Chromium)."""
    for page in sorted(WEB.glob("*.html")):
        html = page.read_text("utf-8")
        scripts = re.findall(r"<script\b[^>]*>", html)
        modules = [i for i, tag in enumerate(scripts) if 'type="module"' in tag]
        boot = [i for i, tag in enumerate(scripts) if 'src="/static/js/boot.js"' in tag]
        assert modules and len(boot) == 1 and boot[0] > max(modules), page.name
        assert "defer" in scripts[boot[0]] and "module" not in scripts[boot[0]], page.name
        assert "<noscript>" in html, page.name
    boot_js = (WEB / "static" / "js" / "boot.js").read_text("utf-8")
    assert not re.search(r"=>|\b(let|const|class)\b|`", code_only(boot_js)), "boot.js is ES5"


def test_every_page_declares_its_icon() -> None:
    """Without <link rel="icon"> the browser asks for /favicon.ico, answered 404, which puts
    an error in the console of every page (seen in Chromium: 2-3 per customer visit)."""
    missing = [
        page.name
        for page in sorted(WEB.glob("*.html"))
        if not re.search(r'<link rel="icon" href="data:,">', page.read_text("utf-8"))
    ]
    assert missing == []


# CSS past what the pages promise (iOS 14.3: Safari 14.0; desktop Safari 14; Chromium 80), in
# every stylesheet: salespeople on an older desktop Safari are promised the pages too.
TOO_NEW_CSS = {
    "inset (Safari 14.1)": re.compile(r"(?<![\w-])inset\s*:"),
    # A selector an older browser cannot read drops its whole rule: the customer's call view
    # stayed 520 px wide on a desktop, 结束录制 no longer stuck to the window's bottom.
    ":has() (Safari 15.4, Chromium 105)": re.compile(r":has\("),
}
GAP = re.compile(r"^(row-|column-)?gap$")


def css_rules(css: str) -> list[tuple[list[str], dict[str, str]]]:
    """(selectors, declarations) of every rule, those inside @media included."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules = []
    for selector, body in re.findall(r"([^{}@;]+)\{([^{}]*)\}", css):
        decls = {}
        for decl in body.split(";"):
            name, sep, value = decl.partition(":")
            if sep:
                decls[name.strip().lower()] = value.strip().lower()
        rules.append(([" ".join(s.split()) for s in selector.split(",")], decls))
    return rules


def flex_gaps(css: str) -> list[str]:
    """Selectors given `gap` while they are flex boxes, in the same rule or another one
    (flex gap: Safari 14.1 / iOS 14.5, Chromium 84; dropped before, and the items touch)."""
    rules = css_rules(css)
    flex = {
        sel
        for sels, decls in rules
        if decls.get("display") in ("flex", "inline-flex")
        for sel in sels
    }
    return [
        sel
        for sels, decls in rules
        if any(GAP.match(name) for name in decls)
        and decls.get("display") not in ("grid", "inline-grid")
        for sel in sels
        if sel in flex
    ]


def test_flex_gap_finder() -> None:
    assert flex_gaps(".a { display: flex; gap: 1rem; }") == [".a"]
    assert flex_gaps(".a { display: flex; }\n@media (x) { .b, .a { row-gap: 1px } }") == [".a"]
    assert flex_gaps(".a { display: grid; gap: 1rem; } /* .b { display: flex; gap: 0 } */") == []
    assert flex_gaps(".a { display: flex; } .a > * + * { margin-left: 1rem; }") == []


def test_stylesheets_hold_on_older_browsers() -> None:
    found = [
        f"{css.name}: {what}"
        for css in sorted((WEB / "static" / "css").glob("*.css"))
        for what, pattern in TOO_NEW_CSS.items()
        if pattern.search(re.sub(r"/\*.*?\*/", "", css.read_text("utf-8"), flags=re.S))
    ]
    assert found == []


def test_no_gap_on_flex_boxes() -> None:
    """kesu.css says how rows are spaced instead (margins that leave items where gap put them)."""
    found = {
        css.name: flex_gaps(css.read_text("utf-8"))
        for css in sorted((WEB / "static" / "css").glob("*.css"))
    }
    assert {name: sels for name, sels in found.items() if sels} == {}
