"""Text read by OCR compared with what it should say: a sentence, a name, a signature.

Every comparison first cleans both sides the way the transcript matching does
(``textnorm.normalize``): Simplified Chinese, no punctuation or spacing.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Indel, Levenshtein

from inspection.textnorm import normalize

__all__ = [
    "clean_text",
    "name_matches",
    "sentence_coverage",
    "sentence_partial_similarity",
    "sentence_similarity",
    "signature_matches",
    "signature_score",
]


def clean_text(text: str) -> str:
    """Simplified Chinese, NFKC, without punctuation, symbols or whitespace; Latin lower-cased.

    The same normalisation the transcript matching uses (``textnorm.normalize``).
    """
    return normalize(text)


def sentence_similarity(read: str, expected: str) -> float:
    """0..1 character similarity of the whole read text to the expected sentence.

    Punctuation, spacing and Traditional/Simplified differences are ignored. Use it when
    ``read`` holds the sentence and little else.
    """
    a, b = clean_text(read), clean_text(expected)
    if not a or not b:
        return float(a == b)
    return fuzz.ratio(a, b) / 100.0


def sentence_partial_similarity(read: str, expected: str) -> float:
    """0..1 similarity of the best-matching alignment of the shorter text inside the longer.

    For a frame that shows the sentence among other text, or only part of it. A high
    value says the visible text agrees with the sentence, not that all of it was shown;
    ``sentence_coverage`` measures that.
    """
    a, b = clean_text(read), clean_text(expected)
    if not a or not b:
        return float(a == b)
    return fuzz.partial_ratio(a, b) / 100.0


def sentence_coverage(reads: Iterable[str], expected: str, min_block: int = 2) -> float:
    """Share (0..1) of the expected sentence's characters seen in any of the reads.

    Each read (one frame's text) is aligned to the sentence; only runs of at least
    ``min_block`` matching characters count, so scattered common characters in unrelated
    text do not add up. Frames that each show part of the page combine.
    """
    target = clean_text(expected)
    if not target:
        return 0.0
    seen = np.zeros(len(target), dtype=bool)
    for read in reads:
        text = clean_text(read)
        if not text:
            continue
        for op in Indel.opcodes(target, text):
            if op.tag == "equal" and op.src_end - op.src_start >= min(min_block, len(target)):
                seen[op.src_start : op.src_end] = True
    return float(seen.mean())


def signature_score(read: str, name: str) -> float:
    """0..1 similarity of ``name`` to its best-matching stretch of the read text."""
    a, b = clean_text(read), clean_text(name)
    if not a or not b:
        return 0.0
    if b in a:
        return 1.0
    return fuzz.partial_ratio(b, a) / 100.0


def name_matches(read: str, name: str) -> bool:
    """True when the read text contains ``name`` (Simplified, punctuation-insensitive).

    Names of two characters must appear exactly; longer names tolerate one wrong, missing
    or extra character, the typical OCR slip on small or handwritten text.
    """
    a, b = clean_text(read), clean_text(name)
    if len(b) < 2:
        return False
    if b in a:
        return True
    if len(b) < 3:
        return False
    windows = (
        a[i : i + n] for n in (len(b) - 1, len(b), len(b) + 1) for i in range(len(a) - n + 1)
    )
    return any(Levenshtein.distance(w, b, score_cutoff=1) <= 1 for w in windows)


def signature_matches(read: str, name: str) -> bool:
    """True when the text read around a signature contains the signer's name (see ``name_matches``)."""
    return name_matches(read, name)
