"""A face warped onto SFace's 112x112 five-point template before it is embedded
(OpenCV ``FaceRecognizerSF::alignCrop``)."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["SFACE_SIZE", "SFACE_TEMPLATE", "align_face", "similarity_transform"]

# SFace's alignment template (OpenCV FaceRecognizerSF::alignCrop), 112x112 output.
SFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
SFACE_SIZE = 112


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 similarity (rotation, uniform scale, shift) mapping ``src`` onto ``dst`` (Umeyama)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    sc, dc = src - mu_s, dst - mu_d
    cov = dc.T @ sc / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.array([1.0, -1.0 if np.linalg.det(cov) < 0 else 1.0])
    rotation = u @ np.diag(d) @ vt
    scale = float((s * d).sum() / max((sc**2).sum() / len(src), 1e-12))
    shift = mu_d - scale * rotation @ mu_s
    return np.hstack([scale * rotation, shift[:, np.newaxis]])


def align_face(bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Warp the face onto SFace's 112x112 five-point template."""
    matrix = similarity_transform(landmarks, SFACE_TEMPLATE)
    return cv2.warpAffine(bgr, matrix, (SFACE_SIZE, SFACE_SIZE), flags=cv2.INTER_LINEAR)
