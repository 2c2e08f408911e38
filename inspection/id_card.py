"""ID card read by OCR: the holder's name and ID number among the text lines of a frame."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inspection.idnumber import normalize_id, validate_id
from inspection.ocr import TextBox
from inspection.text_compare import name_matches

__all__ = ["IdCardReading", "combine_readings", "parse_id_card"]

_LABELS = ("姓名", "性别", "民族", "出生", "住址", "公民身份号码", "签发机关", "有效期限")
_ANCHOR = re.compile(r"性别|民族|出生|^[男女]|\d{4}年")
_LABEL_LIKE = re.compile(r"^(姓名?|.名)[:：]?")
_NAME_CHARS = re.compile(r"[\u3400-\u9fff·•．.]+")
# Latin look-alikes that OCR puts in digit strings, and a multiplication sign for X.
_DIGIT_FIXES = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "Q": "0",
        "l": "1",
        "I": "1",
        "i": "1",
        "|": "1",
        "x": "X",
        "×": "X",
        "Ⅹ": "X",
    }
)
_ID_RUN = re.compile(r"[0-9X]{18,}")


@dataclass(frozen=True)
class IdCardReading:
    """What was read from an ID card image; ``id_valid`` is the GB 11643 verdict."""

    name: str | None
    id_number: str | None
    id_valid: bool
    text: str

    def shows_name(self, name: str) -> bool:
        """True when the card's text contains ``name`` (tolerant, see ``name_matches``).

        More reliable than comparing ``self.name``: the small 姓名 label is often misread
        in video frames, which can make the extracted name lose or gain a character.
        """
        return name_matches(self.text, name)


def parse_id_card(boxes: Sequence[TextBox]) -> IdCardReading:
    """Find the holder's name and ID number among the OCR lines of one image."""
    number, valid = _find_id_number(boxes)
    return IdCardReading(
        name=_find_name(boxes),
        id_number=number,
        id_valid=valid,
        text="\n".join(b.text for b in boxes),
    )


def combine_readings(readings: Iterable[IdCardReading]) -> IdCardReading:
    """One reading from several frames of the same card: majority name and number.

    A number that passes the check digit beats any that fails; ``text`` joins every
    frame's text, so ``shows_name`` is true when any frame shows the name.
    """
    readings = list(readings)
    valid = Counter(r.id_number for r in readings if r.id_valid and r.id_number)
    numbers = valid or Counter(r.id_number for r in readings if r.id_number)
    names = Counter(r.name for r in readings if r.name)
    return IdCardReading(
        name=names.most_common(1)[0][0] if names else None,
        id_number=numbers.most_common(1)[0][0] if numbers else None,
        id_valid=bool(valid),
        text="\n".join(r.text for r in readings),
    )


def _find_name(boxes: Sequence[TextBox]) -> str | None:
    return _name_by_label(boxes) or _name_by_layout(boxes)


def _name_by_label(boxes: Sequence[TextBox]) -> str | None:
    for i, box in enumerate(boxes):
        compact = "".join(box.text.split())
        at = compact.find("姓名")
        if at < 0:
            continue
        name = _name_from(compact[at + 2 :])
        if name:
            return name
        neighbour = _right_neighbour(box, boxes) or (boxes[i + 1] if i + 1 < len(boxes) else None)
        if neighbour is not None:
            name = _name_from("".join(neighbour.text.split()))
            if name:
                return name
    return None


def _name_by_layout(boxes: Sequence[TextBox]) -> str | None:
    """The card's first line, when the small 姓名 label was missed or misread.

    Anchored on the topmost sex/ethnicity or birth line; the name is the topmost line
    within a few line heights above it (further up is more likely the room behind).
    """
    anchors = [b for b in boxes if _ANCHOR.search(_compact(b.text))]
    if not anchors:
        return None
    anchor = min(anchors, key=lambda b: b.top)
    height = anchor.bottom - anchor.top
    above = [
        b
        for b in boxes
        if b.bottom <= anchor.top + 0.3 * height and b.top >= anchor.top - 5 * height
    ]
    if not above:
        return None
    first = min(above, key=lambda b: b.top)
    centre = (first.top + first.bottom) / 2
    line = sorted((b for b in above if b.top <= centre <= b.bottom), key=lambda b: b.left)
    text = "".join(_compact(b.text) for b in line)
    stripped = _LABEL_LIKE.sub("", text, count=1)  # a misread label: 推名, 姓 (名 lost)
    return _name_from(stripped if len(stripped) >= 2 else text)


def _compact(text: str) -> str:
    return "".join(text.split())


def _name_from(text: str) -> str | None:
    text = text.lstrip(":：")
    for label in _LABELS:  # a merged line such as 姓名张三性别男
        cut = text.find(label)
        if cut >= 0:
            text = text[:cut]
    match = _NAME_CHARS.match(text)
    if not match or len(match.group()) < 2:
        return None
    return match.group().replace("•", "·").replace("．", "·")


def _right_neighbour(label: TextBox, boxes: Sequence[TextBox]) -> TextBox | None:
    # The nearest box to the right whose vertical extent overlaps the label's by half.
    best: TextBox | None = None
    height = label.bottom - label.top
    for box in boxes:
        if box is label or box.left < label.right - height:
            continue
        overlap = min(box.bottom, label.bottom) - max(box.top, label.top)
        if overlap < 0.5 * min(height, box.bottom - box.top):
            continue
        if best is None or box.left < best.left:
            best = box
    return best


def _id_candidates(boxes: Sequence[TextBox]) -> Iterable[str]:
    texts = ["".join(b.text.split()) for b in boxes]
    # Single boxes first, then neighbours joined, for a number split across two boxes.
    yield from texts
    yield from (a + b for a, b in itertools.pairwise(texts))


def _find_id_number(boxes: Sequence[TextBox]) -> tuple[str | None, bool]:
    first_invalid: str | None = None
    for text in _id_candidates(boxes):
        fixed = unicodedata.normalize("NFKC", text).translate(_DIGIT_FIXES)
        for run in _ID_RUN.findall(fixed):
            # A run longer than 18 picked up a neighbour's digit: try every window; the
            # check character decides which one is the number.
            for start in range(len(run) - 17):
                window = run[start : start + 18]
                if "X" in window[:17]:
                    continue
                if validate_id(window).valid:
                    return window, True
                first_invalid = first_invalid or window
    return (normalize_id(first_invalid), False) if first_invalid else (None, False)
