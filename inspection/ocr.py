"""OCR of documents shown on camera: RapidOCR wrapper, ID-card parsing, sentence comparison.

The OCR models (PP-OCRv4 detection and recognition, PP-OCR text direction classifier, all
ONNX) ship inside the ``rapidocr-onnxruntime`` wheel, so nothing is downloaded. The engine is
built once by the caller and passed in; everything else here is a pure function.
"""

from __future__ import annotations

import heapq
import itertools
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Indel, Levenshtein

from inspection.idnumber import normalize_id, validate_id
from inspection.quality import sharpness
from inspection.textnorm import normalize

__all__ = [
    "IdCardReading",
    "OcrEngine",
    "OcrError",
    "SignaturePage",
    "TextBox",
    "best_frames",
    "clean_text",
    "combine_readings",
    "name_matches",
    "parse_id_card",
    "parse_signature_page",
    "sentence_coverage",
    "sentence_partial_similarity",
    "sentence_similarity",
    "sharpness",
    "signature_matches",
    "signature_score",
]

_PACKAGE = "rapidocr-onnxruntime==1.4.4"
MODEL_FILES = {
    "Det": "ch_PP-OCRv4_det_infer.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    "Rec": "ch_PP-OCRv4_rec_infer.onnx",
}


class OcrError(RuntimeError):
    """The OCR engine cannot be built (package or model file missing)."""


@dataclass(frozen=True)
class TextBox:
    """One line of text found in an image: 4 corner points (x, y), text, recogniser score."""

    box: list[list[float]]
    text: str
    score: float

    @property
    def top(self) -> float:
        return min(p[1] for p in self.box)

    @property
    def bottom(self) -> float:
        return max(p[1] for p in self.box)

    @property
    def left(self) -> float:
        return min(p[0] for p in self.box)

    @property
    def right(self) -> float:
        return max(p[0] for p in self.box)


class OcrEngine:
    """PP-OCRv4 through RapidOCR on onnxruntime, with an explicit thread count.

    ``model_dir`` holds the three ONNX files under the wheel's names (``MODEL_FILES``), e.g.
    ``ModelRegistry.path("rapidocr")`` (sha256-verified) or a user override directory;
    by default the files inside the installed wheel are used. ``det_limit_side_len`` is the
    length the detector scales the shorter image side up to (the wheel's default, 736).
    ``allow_spinning`` lets onnxruntime's idle threads spin-wait (faster only on an
    otherwise idle machine).
    """

    def __init__(
        self,
        threads: int = 2,
        model_dir: Path | None = None,
        det_limit_side_len: int = 736,
        allow_spinning: bool = False,
    ) -> None:
        try:
            import rapidocr_onnxruntime
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise OcrError(f"OCR needs {_PACKAGE}: pip install '{_PACKAGE}'") from exc
        base = model_dir or Path(rapidocr_onnxruntime.__file__).parent / "models"
        paths = {k: base / name for k, name in MODEL_FILES.items()}
        missing = [str(p) for p in paths.values() if not p.is_file()]
        if missing:
            raise OcrError(f"OCR model files missing: {', '.join(missing)} (reinstall {_PACKAGE})")
        # Every model path is given explicitly, so RapidOCR never looks anywhere else.
        self._ocr = RapidOCR(
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
            det_model_path=str(paths["Det"]),
            cls_model_path=str(paths["Cls"]),
            rec_model_path=str(paths["Rec"]),
            det_limit_side_len=det_limit_side_len,
        )
        self._replace_sessions(paths, threads, allow_spinning)
        self.threads = threads
        # RapidOCR keeps per-call state on the detector (its resize op), so concurrent
        # calls from several executor threads must not interleave.
        self._lock = threading.Lock()

    def _replace_sessions(self, paths: dict[str, Path], threads: int, spin: bool) -> None:
        # RapidOCR cannot turn off onnxruntime's spin-waiting, which on a shared CPU burns
        # time other work needs (measured at load ~12 on 2 cores: 1.2-1.3 s wall and
        # 430-470 ms CPU per frame without spinning, 1.9-3.7 s and 770-910 ms with it).
        # So each of its three sessions is rebuilt with our options (rapidocr 1.4.4 layout).
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1  # the graphs are sequential
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        holders = {
            "Det": (self._ocr.text_det, "infer"),
            "Cls": (self._ocr.text_cls, "infer"),
            "Rec": (self._ocr.text_rec, "session"),
        }
        for key, (holder, attr) in holders.items():
            wrapper = getattr(holder, attr, None)
            if wrapper is None or not hasattr(wrapper, "session"):
                raise OcrError(f"unexpected rapidocr_onnxruntime internals; install {_PACKAGE}")
            wrapper.session = ort.InferenceSession(
                str(paths[key]), sess_options=opts, providers=["CPUExecutionProvider"]
            )

    def read(self, bgr: np.ndarray) -> list[TextBox]:
        """Text lines in a BGR uint8 image, top to bottom then left to right.

        CPU-bound (~0.25 s for a 640x480 frame on 2 threads): call it from a worker thread,
        never on an event loop. Thread-safe; calls are serialised.
        """
        if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
            raise ValueError("expected a BGR uint8 image of shape (h, w, 3)")
        result: Any
        with self._lock:
            result, _elapsed = self._ocr(bgr)
        if not result:
            return []
        return [
            TextBox([[float(x), float(y)] for x, y in box], str(text), float(score))
            for box, text, score in result
        ]


# --- ID card -------------------------------------------------------------------------------

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


# --- Signature page ------------------------------------------------------------------------

_SIGN_LABEL = re.compile(r"(投保人|被保险人|客户)?(签名|签字|签署|签章)[:：]?")


@dataclass(frozen=True)
class SignaturePage:
    """A page with a hand-copied sentence and a signature line, split apart.

    ``signed_name`` is the text after the 签名 label (same box and boxes to its right),
    ``None`` when no label was read; ``page_text`` the lines above the signature line.
    """

    signed_name: str | None
    page_text: str
    text: str


def parse_signature_page(boxes: Sequence[TextBox]) -> SignaturePage:
    """Split the OCR lines of a signature page into the signed name and the other text.

    The signed name is the label box's text after 签名 (签字, 投保人签名 ...) plus the boxes
    to its right on the same line; the page text is every box above the signature line
    (below it there is usually a date, not the hand-copied sentence).
    """
    text = "\n".join(b.text for b in boxes)
    for label in boxes:
        match = _SIGN_LABEL.search(_compact(label.text))
        if match is None:
            continue
        right = sorted(
            (b for b in boxes if b is not label and _same_line(label, b) and b.left >= label.left),
            key=lambda b: b.left,
        )
        signed = _compact(label.text)[match.end() :] + "".join(_compact(b.text) for b in right)
        on_line = [label, *right]
        page = "".join(
            b.text for b in boxes if all(b is not x for x in on_line) and b.bottom <= label.bottom
        )
        return SignaturePage(signed, page, text)
    return SignaturePage(None, "".join(b.text for b in boxes), text)


def _same_line(a: TextBox, b: TextBox) -> bool:
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    return overlap >= 0.4 * min(a.bottom - a.top, b.bottom - b.top)


# --- Sentences and signatures --------------------------------------------------------------


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


# --- Frame choice --------------------------------------------------------------------------


def best_frames(
    frames: Iterable[tuple[float, np.ndarray]], k: int
) -> list[tuple[float, np.ndarray, float]]:
    """The ``k`` sharpest frames as ``(t_s, bgr, sharpness)``, sharpest first.

    Consumes the iterable (e.g. ``inspection.media.sample_frames``) keeping only ``k``
    frames in memory, so OCR runs on the few frames most likely to be legible.
    """
    if k <= 0:
        return []
    heap: list[tuple[float, int, float, np.ndarray]] = []
    for n, (t_s, bgr) in enumerate(frames):
        item = (sharpness(bgr), n, t_s, bgr)
        if len(heap) < k:
            heapq.heappush(heap, item)
        elif item[0] > heap[0][0]:
            heapq.heapreplace(heap, item)
    return [(t, img, s) for s, _, t, img in sorted(heap, key=lambda x: (-x[0], x[1]))]
