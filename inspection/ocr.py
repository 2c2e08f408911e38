"""RapidOCR wrapper: the OCR engine and the text lines (``TextBox``) it reads from an image.

The OCR models (PP-OCRv4 detection and recognition, PP-OCR text direction classifier, all
ONNX) ship inside the ``rapidocr-onnxruntime`` wheel, so nothing is downloaded. The engine is
built once by the caller and passed in. What the lines say is parsed elsewhere:
``inspection.id_card`` (ID cards), ``inspection.signature_page`` and ``inspection.page_text``
(signed pages), ``inspection.text_compare`` (read text vs expected sentence or name).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MAX_ASPECT", "MODEL_FILES", "OcrEngine", "OcrError", "TextBox", "fit_aspect"]

_PACKAGE = "rapidocr-onnxruntime==1.4.4"
MODEL_FILES = {
    "Det": "ch_PP-OCRv4_det_infer.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    "Rec": "ch_PP-OCRv4_rec_infer.onnx",
}


#: Longest side at most this many times the shortest in what RapidOCR is given. RapidOCR
#: scales a picture's shorter side up (to 30 px, then to ``det_limit_side_len``) and its
#: longer side by the same factor: a 2 x 2000 strip (a PNG of a few hundred bytes, sent as a
#: self-service document or decoded from a video) became a detector input of tens of
#: thousands of pixels a side and over 6.8 GB (a MemoryError after 52 s under a 10 GB
#: limit), and a 1 x 4096 strip a ``ResizeImgError`` (a 500). No card or page is this thin.
MAX_ASPECT = 4


def fit_aspect(bgr: np.ndarray) -> np.ndarray:
    """``bgr`` padded with white below or to the right until its longer side is at most
    :data:`MAX_ASPECT` times its shorter one (unchanged when it already is): the text keeps
    its place, so box coordinates need no correction."""
    h, w = bgr.shape[:2]
    need_h = -(-w // MAX_ASPECT)
    need_w = -(-h // MAX_ASPECT)
    if h >= need_h and w >= need_w:
        return bgr
    out = np.full((max(h, need_h), max(w, need_w), 3), 255, dtype=np.uint8)
    out[:h, :w] = bgr
    return out


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
        bgr = fit_aspect(bgr)
        result: Any
        with self._lock:
            result, _elapsed = self._ocr(bgr)
        if not result:
            return []
        return [
            TextBox([[float(x), float(y)] for x, y in box], str(text), float(score))
            for box, text, score in result
        ]
