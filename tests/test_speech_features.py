"""Whisper's spectrogram of a long track computed a chunk at a time is the spectrogram
faster-whisper computes in one go (which needed ~0.7 GB of intermediates for 18 minutes)."""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor

from inspection.speech_features import ChunkedFeatureExtractor


@pytest.mark.parametrize("n", [161, 400, 16000, 16000 * 7 + 123])
@pytest.mark.parametrize("chunk", [1, 7, 250, 6000])
def test_chunked_spectrogram_equals_faster_whispers(n: int, chunk: int) -> None:
    x = np.random.default_rng(n).normal(0, 0.1, n).astype(np.float32)
    x[n // 3 : n // 2] = 0.0  # a silent stretch: the clamp to max - 8 acts there
    want = FeatureExtractor()(x)
    got = ChunkedFeatureExtractor(chunk_frames=chunk)(x)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    # Identical frames and FFTs; only the mel matrix product may round differently per chunk.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_chunked_spectrogram_of_a_window_and_of_silence() -> None:
    fe, ref = ChunkedFeatureExtractor(chunk_frames=100), FeatureExtractor()
    for x in (np.zeros(16000, np.float32), np.ones(30 * 16000, np.float32) * 0.01):
        np.testing.assert_allclose(fe(x), ref(x), rtol=0, atol=1e-6)
    assert fe(np.zeros(0, np.float32)).shape == ref(np.zeros(0, np.float32)).shape
