"""Key-content score of a script node: how much of the template's content a stretch of speech
carries, whatever the wording and order.

An insurer's salespeople say a node in their own words ("犹豫期过后再退保的话，只退还现金价值"
for "过了犹豫期再解除合同，只能退还保单的现金价值") and the ASR adds homophone errors: the
whole-text similarity of such a paraphrase falls to 0.55-0.69, below any threshold that still
tells nodes apart. What a paraphrase keeps is the content: the pairs of content syllables
(录音-录像, 现金-价值, 犹豫-期). The score is the share of the template's toneless-pinyin
content bigrams (function characters such as 的/了/您/请 left out) found in the stretch, in
any order. Measured on the dev wording (text, before ASR): a node's own paraphrases score
0.43-1.00, every other stretch of the script at most 0.32; ``ScriptSettings.min_key_score``
(0.45) sits between.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from inspection.node_synonyms import fold
from inspection.textnorm import pinyin
from inspection.transcript import normalize_script

Grams = frozenset[tuple[str, str]]

_CLAUSE_BREAK = re.compile(r"[，,。；;？?！!：:、]")

#: Function characters whose syllables carry no content of a node (pronouns, particles,
#: auxiliaries, measure words): they are the first thing a paraphrase changes.
FUNCTION_CHARS = frozenset("的了您你我们是在和并对就会也都吗呢吧啊一下这那个请把给要有再可能以就")


def content_grams(text: str, syllables: Sequence[str] | None = None) -> Grams:
    """Toneless pinyin bigrams of the content characters of normalised ``text``.

    ``syllables`` are ``pinyin(text)`` when the caller has them already (a transcript stream).
    """
    py = pinyin(text) if syllables is None else syllables
    # Accent-level confusions (zh/z, l/n, ing/in ...) folded, as for the whole-text match, and
    # the sale's synonyms (冷静期 / 犹豫期, 签字 / 签名) to one word.
    syl = fold(text, py, FUNCTION_CHARS)
    return frozenset(zip(syl, syl[1:], strict=False))


def key_score(template: Grams, text: str, syllables: Sequence[str] | None = None) -> float:
    """Share (0..1) of the template's content bigrams present in ``text`` (normalised)."""
    if not template:
        return 0.0
    return len(template & content_grams(text, syllables)) / len(template)


@dataclass(frozen=True)
class NodeKey:
    """The content of one node: bigrams of the whole text and, when every clause must be
    said (the recording reminder, R3 "in full"), of each clause."""

    grams: Grams
    clauses: tuple[Grams, ...] = ()

    def score(self, text: str, syllables: Sequence[str], clause_min: float) -> float:
        """``key_score`` of the whole; when a clause falls below ``clause_min``, that
        clause's share instead (a reading that drops a clause is not the node)."""
        said = content_grams(text, syllables)
        whole = len(self.grams & said) / len(self.grams) if self.grams else 0.0
        shares = [len(c & said) / len(c) for c in self.clauses if c]
        worst = min(shares, default=1.0)
        return whole if worst >= clause_min else worst


def node_key(text: str, every_clause: bool) -> NodeKey:
    """``NodeKey`` of a template node's rendered text (punctuation separates its clauses)."""
    whole = normalize_script(text)
    clauses: tuple[Grams, ...] = ()
    if every_clause:
        parts = (normalize_script(p) for p in _CLAUSE_BREAK.split(text))
        clauses = tuple(g for g in (content_grams(p) for p in parts if p) if len(g) >= 2)
    return NodeKey(content_grams(whole), clauses)


def best_key_windows(
    key: NodeKey,
    text: str,
    syllables: Sequence[str],
    n: int,
    clause_min: float,
    count: int = 3,
    step: int = 2,
) -> list[tuple[float, int, int]]:
    """Up to ``count`` non-overlapping best windows of ``n`` characters by ``key.score``,
    each trimmed to the shortest span with the same score: (score, start, end), best first.

    Trimming keeps a window off the neighbouring nodes' words (the cooling-off sentence
    before the surrender-loss one shares 犹豫期 and 解除合同).
    """
    if not text or not key.grams:
        return []
    n = max(1, min(n, len(text)))
    scored = sorted(
        (
            (key.score(text[s : s + n], syllables[s : s + n], clause_min), s)
            for s in range(0, len(text) - n + 1, step)
        ),
        key=lambda x: (-x[0], x[1]),
    )
    out: list[tuple[float, int, int]] = []
    for sc, s in scored:
        if len(out) >= count or sc <= 0.0:
            break
        a, b = s, s + n
        while b - a > 1 and key.score(text[a + 1 : b], syllables[a + 1 : b], clause_min) >= sc:
            a += 1
        while b - a > 1 and key.score(text[a : b - 1], syllables[a : b - 1], clause_min) >= sc:
            b -= 1
        if all(b <= o[1] or a >= o[2] for o in out):
            out.append((sc, a, b))
    return out
