"""Finding what the customer wrote on a signature form among its printed text.

A real form has a printed heading, an instruction line, ruled lines, a ``投保人签名：____
日期：____`` line and the handwriting in between. Comparing the whole page with the risk
sentence lets the printed text drag the similarity down, so the sentence is located as the
best-matching stretch of the page (across line breaks, in reading order) and only that
stretch is compared; the signed name is looked for next to its 签名 label.

Pure functions over OCR lines; no models.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Indel

from inspection.ocr import TextBox
from inspection.text_compare import clean_text

__all__ = [
    "PageLine",
    "SentenceSpan",
    "locate_sentence",
    "reading_order",
    "signature_line",
    "split_form",
]

Bounds = tuple[int, int, int, int]  # left, top, right, bottom (px)

# A signature label where a label starts: at the start of a box or after a gap, optionally
# with its role, never inside a sentence ("请抄录并签名：" is an instruction, not the label).
_SIGN_LABEL = re.compile(
    r"(?:^|(?<=[\s_＿.．…]))(?:投保人|被保险人|投保人/被保险人|客户|本人)?[（(]?(?:亲笔)?"
    r"(?:签名|签字|签章|签署)[)）]?(?:处|栏)?(?:\s*[:：]|(?=[\s_＿]|$))"
)
# Printed fields that end what was written after a label.
_NEXT_FIELD = re.compile(r"(?:签署|填写|签字|签名)?(?:日期|时间)\s*[:：]?|[:：]")
# Instruction lines: a printed request to copy or write, ending in a colon, possibly with the
# printed model sentence after the colon in the same line.
_INSTRUCTION = re.compile(r"(?:请|需).{0,12}(?:抄录|抄写|书写|手写).{0,10}[:：]")
_DATE_LINE = re.compile(r"^(?:签署|填写|签字|签名)?(?:日期|时间)\s*[:：]?")
_FILLER = re.compile(r"[\s_＿.．…\-—–·]+")


@dataclass(frozen=True)
class PageLine:
    """One line of a page in reading order: its text and the boxes it was joined from."""

    text: str
    boxes: tuple[int, ...]  # indices into the OCR boxes
    bounds: Bounds


@dataclass(frozen=True)
class SentenceSpan:
    """The stretch of page text that best matches an expected sentence.

    ``similarity`` is the character similarity (0-1, as ``text_compare.sentence_similarity``) of
    ``text`` to the sentence; ``matched_chars`` counts the sentence's characters found in
    runs of 2+ (scattered common characters of printed labels do not count); ``lines`` are
    the indices of the page lines the stretch covers.
    """

    text: str
    similarity: float
    matched_chars: int
    lines: tuple[int, ...] = ()


def _bounds(boxes: Sequence[TextBox]) -> Bounds:
    return (
        round(min(b.left for b in boxes)),
        round(min(b.top for b in boxes)),
        round(max(b.right for b in boxes)),
        round(max(b.bottom for b in boxes)),
    )


def _angle(box: TextBox) -> float:
    """Slope angle (radians) of a box's text line: its top edge, corner 0 to corner 1."""
    (x0, y0), (x1, y1) = box.box[0][:2], box.box[1][:2]
    return math.atan2(y1 - y0, x1 - x0) if x1 - x0 > 1e-6 else 0.0


def _extent(box: TextBox, angle: float) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of ``box`` in a frame turned by ``-angle``: the page's own
    axes when the page is held at ``angle``."""
    c, s = math.cos(angle), math.sin(angle)
    xs = [x * c + y * s for x, y in (p[:2] for p in box.box)]
    ys = [-x * s + y * c for x, y in (p[:2] for p in box.box)]
    return min(xs), min(ys), max(xs), max(ys)


def _same_line(a: TextBox, b: TextBox) -> bool:
    # Measured along the page's own lines: on a tilted page (a form held at 5-15°) the
    # upright bounds of two consecutive long lines overlap vertically by half their height.
    angle = _angle(a)
    al, at, ar, ab = _extent(a, angle)
    bl, bt, br, bb = _extent(b, angle)
    overlap = min(ab, bb) - max(at, bt)
    if overlap < 0.4 * min(ab - at, bb - bt):
        return False
    # Boxes side by side on one line do not overlap horizontally; stacked lines do.
    return min(ar, br) - max(al, bl) < 0.3 * min(ar - al, br - bl)


def reading_order(boxes: Sequence[TextBox]) -> list[PageLine]:
    """Boxes grouped into lines (overlapping along the page's slope, side by side), top to
    bottom, each left to right."""
    rows: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda i: (boxes[i].top + boxes[i].bottom) / 2):
        row = next((r for r in reversed(rows[-3:]) if _joins(boxes, r, i)), None)
        if row is not None:
            row.append(i)
        else:
            rows.append([i])
    rows.sort(key=lambda r: min((boxes[i].top + boxes[i].bottom) / 2 for i in r))
    lines = []
    for row in rows:
        row.sort(key=lambda i: boxes[i].left)
        lines.append(
            PageLine(
                text=" ".join(boxes[i].text.strip() for i in row),
                boxes=tuple(row),
                bounds=_bounds([boxes[i] for i in row]),
            )
        )
    return lines


def _joins(boxes: Sequence[TextBox], row: list[int], i: int) -> bool:
    """Box ``i`` continues ``row``: on the line of its first box, beside all of its boxes."""
    return _same_line(boxes[row[0]], boxes[i]) and all(_beside(boxes[j], boxes[i]) for j in row[1:])


def _beside(a: TextBox, b: TextBox) -> bool:
    return min(a.right, b.right) - max(a.left, b.left) < 0.3 * min(
        a.right - a.left, b.right - b.left
    )


def _compact(text: str) -> str:
    return "".join(text.split())


def signature_line(lines: Sequence[PageLine]) -> tuple[int, str] | None:
    """(line index, the name written after the 签名 label) for the lowest labelled line.

    The name ends at the next printed field (日期：...). When nothing but fillers follows the
    label, the name is taken from the line just above or below (handwriting on, not after,
    the ruled line). ``None`` when no line has a label.
    """
    for idx in range(len(lines) - 1, -1, -1):
        text = lines[idx].text
        match = _SIGN_LABEL.search(text)
        if match is None or _INSTRUCTION.search(text):
            continue
        after = text[match.end() :]
        cut = _NEXT_FIELD.search(after)
        name = _FILLER.sub("", after[: cut.start()] if cut else after)
        if not clean_text(name):
            name = _name_nearby(lines, idx)
        return idx, name
    return None


def _name_nearby(lines: Sequence[PageLine], idx: int) -> str:
    here = lines[idx].bounds
    height = here[3] - here[1]
    for j in (idx - 1, idx + 1):
        if not 0 <= j < len(lines):
            continue
        other = lines[j]
        text = _FILLER.sub("", other.text)
        gap = max(other.bounds[1] - here[3], here[1] - other.bounds[3])
        # A name is short and sits within about a line height of its label.
        if 2 <= len(clean_text(text)) <= 5 and gap <= 1.5 * height and not _is_printed(text):
            return text
    return ""


def _is_printed(text: str) -> bool:
    compact = _compact(text)
    return (
        not _FILLER.sub("", compact)
        or bool(_INSTRUCTION.search(compact))
        or bool(_DATE_LINE.match(compact))
        or bool(_SIGN_LABEL.search(text))
    )


def split_form(lines: Sequence[PageLine]) -> tuple[str | None, list[int]]:
    """(signed name or None without a label, indices of lines that may hold handwriting).

    Left out: the signature line, date lines, lines of ruling or underscores only, and
    instruction lines (a printed request to copy, with any model sentence printed after it).
    """
    sig = signature_line(lines)
    keep = [
        i
        for i, line in enumerate(lines)
        if (sig is None or i != sig[0])
        and not _is_printed(line.text)
        and not _continues_quote(lines, i)
    ]
    return (sig[1] if sig else None), keep


def _height(line: PageLine) -> int:
    return line.bounds[3] - line.bounds[1]


def _continues_quote(lines: Sequence[PageLine], i: int) -> bool:
    """A printed model sentence wrapped from an instruction line onto the next lines: directly
    below it, in print of the instruction's size (handwriting is much larger)."""
    j = i - 1
    while j >= 0:
        above = lines[j]
        match = _INSTRUCTION.search(_compact(above.text))
        gap = lines[j + 1].bounds[1] - above.bounds[3]
        if gap > _height(above) or _height(lines[j + 1]) > 1.3 * _height(above):
            return False
        if match is not None:
            return bool(clean_text(_compact(above.text)[match.end() :]))
        j -= 1
    return False


def _matched_chars(target: str, text: str, min_block: int = 2) -> int:
    return sum(
        op.src_end - op.src_start
        for op in Indel.opcodes(target, text)
        if op.tag == "equal" and op.src_end - op.src_start >= min(min_block, len(target))
    )


def locate_sentence(lines: Sequence[str], sentence: str) -> SentenceSpan:
    """The best-matching stretch of the concatenated ``lines`` for ``sentence``.

    Every start and every length within a third of the sentence's length is scored by
    character similarity (punctuation, spacing and Traditional/Simplified ignored); the
    best wins, the shorter one on ties. Line breaks do not count, so a sentence copied over
    several lines is found whole, and text around it (headings, instructions) is left out.
    """
    target = clean_text(sentence)
    pieces = [clean_text(t) for t in lines]
    text = "".join(pieces)
    owner = [i for i, p in enumerate(pieces) for _ in p]
    if not target or not text:
        return SentenceSpan("", float(target == text), 0)
    slack = max(4, len(target) // 3)
    lo, hi = max(1, len(target) - slack), len(target) + slack
    best = (-1.0, 0, 0)
    for start in range(len(text)):
        for end in range(start + lo, min(len(text), start + hi) + 1):
            score = Indel.normalized_similarity(text[start:end], target)
            if score > best[0] or (score == best[0] and end - start < best[2] - best[1]):
                best = (score, start, end)
        if start + lo > len(text):
            # Shorter than the shortest window: score what is left once.
            score = Indel.normalized_similarity(text[start:], target)
            if score > best[0]:
                best = (score, start, len(text))
            break
    score, start, end = best
    span = text[start:end]
    return SentenceSpan(
        text=span,
        similarity=float(score),
        matched_chars=_matched_chars(target, span),
        lines=tuple(sorted(set(owner[start:end]))),
    )
