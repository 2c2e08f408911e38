"""What text the stores and the pages take: one rule for request fields (pydantic
validators in ``server.api.schemas.common``) and for ``kesu user``'s arguments."""

from __future__ import annotations

import unicodedata

#: The longest free-text note a person adds to the audit chain: a legal hold's reason
#: (``HoldBody``, ``retention.set_hold``) and ``kesu reinspect --note``.
MAX_NOTE = 1000

# Unicode categories that have no place in a name: controls (Cc: line breaks, tabs, ESC),
# invisible format characters (Cf: bidi overrides such as U+202E, zero-width spaces and
# joiners, the BOM), line and paragraph separators (Zl, Zp).
_NOT_IN_A_LINE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def text_problem(value: str) -> str | None:
    """Why no store can keep ``value``, or None: lone surrogates (not encodable as UTF-8;
    Python makes them of an argument's bytes that are not UTF-8) and NUL (PostgreSQL text
    cannot hold it)."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogates)"
    return None


def line_problem(value: str) -> str | None:
    """Why ``value`` would not show as what it is on one line, or None: a customer name
    with a right-to-left override displays reversed to the reviewer, one with a zero-width
    space never matches the name read from the ID card, one with a line break or an escape
    sequence splits or colours a log or terminal line."""
    for ch in value:
        if unicodedata.category(ch) in _NOT_IN_A_LINE:
            return (
                f"must be one line of visible text (U+{ord(ch):04X} is a control or "
                "invisible formatting character)"
            )
    return None


# Characters that change how text reads without being seen: the bidi embeddings, overrides
# and isolates (U+202A-U+202E, U+2066-U+2069), the directional marks, zero-width spaces and
# the BOM. (U+200D, the joiner of emoji sequences, stays.)
_INVISIBLE = frozenset(
    "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)


def prose_problem(value: str) -> str | None:
    """Why free text (a reviewer's comment, a decision's reason) would not show as what it
    is, or None: line breaks and tabs are its own, other controls (ESC, BEL) and the
    invisible characters above are not."""
    for ch in value:
        if ch in _INVISIBLE or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"):
            return (
                f"must be visible text (U+{ord(ch):04X} is a control or invisible "
                "formatting character)"
            )
    return None
