"""YuNet's raw outputs: per-stride decoding into boxes, landmarks and scores, non-maximum
suppression, and the same graph with its input size freed (for low-resolution passes and crops).

Post-processing follows OpenCV's ``FaceDetectorYN``; ``faces.FaceAnalyzer`` runs the network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

__all__ = ["STRIDES", "decode", "dynamic_session", "iou", "nms"]

STRIDES = (8, 16, 32)


def decode(
    out: dict[str, np.ndarray], in_w: int, in_h: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode YuNet's per-stride outputs into boxes (x,y,w,h), landmarks and scores."""
    all_boxes, all_kps, all_scores = [], [], []
    for stride in STRIDES:
        cols = in_w // stride
        cls = np.clip(out[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(out[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        idx = np.flatnonzero(score >= threshold)
        if idx.size == 0:
            continue
        col = (idx % cols).astype(np.float32)
        row = (idx // cols).astype(np.float32)
        bbox = out[f"bbox_{stride}"].reshape(-1, 4)[idx]
        kps = out[f"kps_{stride}"].reshape(-1, 10)[idx].reshape(-1, 5, 2)
        cx, cy = (col + bbox[:, 0]) * stride, (row + bbox[:, 1]) * stride
        w, h = np.exp(bbox[:, 2]) * stride, np.exp(bbox[:, 3]) * stride
        all_boxes.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=1))
        grid = np.stack([col, row], axis=1)[:, np.newaxis, :]
        all_kps.append((kps + grid) * stride)
        all_scores.append(score[idx])
    if not all_scores:
        return np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros(0)
    return np.concatenate(all_boxes), np.concatenate(all_kps), np.concatenate(all_scores)


def dynamic_session(
    path: Path, options: ort.SessionOptions, providers: list[str]
) -> ort.InferenceSession | None:
    """YuNet with its input height and width freed (outputs reshape to [1, -1, k]), or None
    when the graph does not allow it (then every frame takes the full pass)."""
    try:
        import onnx

        model = onnx.load(str(path))
        dims = model.graph.input[0].type.tensor_type.shape.dim
        if len(dims) != 4:
            return None
        dims[2].dim_param, dims[3].dim_param = "height", "width"
        for out in model.graph.output:
            out.type.tensor_type.ClearField("shape")
        del model.graph.value_info[:]
        return ort.InferenceSession(model.SerializeToString(), options, providers=providers)
    except Exception:  # noqa: BLE001 - any failure just disables the fast pass
        return None


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Greedy non-maximum suppression on (x, y, w, h) boxes; indices best first."""
    order = np.argsort(-scores, kind="stable")
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    areas = boxes[:, 2] * boxes[:, 3]
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= threshold]
    return keep
