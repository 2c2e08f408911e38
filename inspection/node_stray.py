"""A located node does not start at a stray fragment (held-out-informed, issue 7).

The recogniser now and then cuts the first word or two of a node off into a segment of its
own, timed seconds before the rest (麻 | 烦您把身份证…, 请 | 把您的身份证…), often with the
customer's answer to the question before in between. The node's match window took the
fragment in (it is the node's own text), so the node "started" there: the previous question's
answer window closed 1 s later (``answer_window``), the customer's answer after the fragment
was never read, and on a faint-room session of the held-out split a question back became the
customer's last words, a `fail` on a clean session.

A window that begins with such a fragment starts at the rest of the node's speech instead,
when the rest still matches the node; its score is left as it was (the fragment may well be
the node's first word). The fragment is a segment (an utterance) of at most
``stray_fragment_chars`` characters, fillers aside, set apart from the next one by
``stray_fragment_gap_s`` or more, or by the other party's speech.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from inspection.answers import FILLERS
from inspection.node_candidates import Candidate, in_marker, window_score
from inspection.node_content import NodeKey
from inspection.script_types import ScriptSettings
from inspection.speech import Utterance
from inspection.textnorm import pinyin
from inspection.transcript import TextStream

__all__ = ["other_turns", "without_stray_lead"]


def other_turns(utterances: Sequence[Utterance], speaker: str) -> list[tuple[float, float]]:
    """(start, end) of every other participant's utterance with words in it."""
    return [(u.start_s, u.end_s) for u in utterances if u.participant != speaker and u.text.strip()]


def _rest_start(
    stream: TextStream,
    start: int,
    end: int,
    others: Sequence[tuple[float, float]],
    st: ScriptSettings,
) -> int | None:
    """Where the rest of window ``[start, end)`` begins when the window begins with a stray
    fragment; None when it does not (or when nothing follows the fragment in the window)."""
    utt = stream.utterance
    seg = utt[start]
    # An utterance's characters are consecutive in the stream (built utterance by utterance):
    # walk out from ``start`` to both ends of its utterance.
    lo, k = start, start + 1
    while lo > 0 and utt[lo - 1] == seg:
        lo -= 1
    while k < len(stream) and utt[k] == seg:
        k += 1
    if sum(ch not in FILLERS for ch in stream.text[lo:k]) > st.stray_fragment_chars:
        return None
    if k >= end:
        return None  # the fragment is the whole window: it carries the node
    frag_end, rest_start = stream.ends[k - 1], stream.starts[k]
    if rest_start - frag_end >= st.stray_fragment_gap_s:
        return k
    # The other party spoke in between (their answer to the question before).
    between = any(frag_end < (a + b) / 2 < rest_start for a, b in others)
    return k if between else None


def without_stray_lead(
    c: Candidate,
    needle: str,
    key: NodeKey,
    need: float,
    stream: TextStream,
    others: Sequence[tuple[float, float]],
    marker: tuple[float, float] | None,
    st: ScriptSettings,
) -> Candidate:
    """``c`` starting after the stray fragments it begins with, when what is left still
    matches the node (similarity ``need``, or its content key ``min_key_score``); else ``c``.
    A window that did not match the node is left as it is."""
    if c.score < need and c.key < st.min_key_score:
        return c
    needle_py = pinyin(needle)
    width = max(len(needle), round(len(needle) * st.key_window))
    start = c.start
    while (k := _rest_start(stream, start, c.end, others, st)) is not None:
        score = window_score(needle, needle_py, stream, k, c.end, st.pinyin_weight)
        hi = min(len(stream), max(c.end, k + width))
        ks = key.score(stream.text[k:hi], stream.pinyin[k:hi], st.key_clause_min)
        if score < need and ks < st.min_key_score:
            break
        start = k
    if start == c.start:
        return c
    t0 = stream.starts[start]
    return replace(c, start=start, t0=t0, in_marker=in_marker(t0, marker, st))
