"""Whisper's log-Mel spectrogram of a long track, computed a minute at a time.

faster-whisper computes the spectrogram of all the audio it is given in one go: for an
18-minute salesperson track the framed signal, the complex128 FFT, its complex64 copy and the
magnitudes are ~0.7 GB of intermediate arrays at once, for a 34 MB result. That transient set
the inspection's peak memory on 20-minute sessions (docs/bench.md). The same frames through
the same FFT, a chunk of frames at a time, give the same spectrogram (the global maximum that
the clamp uses is taken once, over all of it), so decoding does not change.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

#: Frames (10 ms each) of the spectrogram computed at a time: 60 s, ~25 MB of intermediates.
CHUNK_FRAMES = 6000


class ChunkedFeatureExtractor(FeatureExtractor):  # type: ignore[misc]
    """``FeatureExtractor`` whose ``__call__`` works ``chunk_frames`` frames at a time."""

    def __init__(self, chunk_frames: int = CHUNK_FRAMES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chunk_frames = max(1, chunk_frames)

    def __call__(
        self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None
    ) -> np.ndarray:
        if chunk_length is not None:
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        n_fft, hop = self.n_fft, self.hop_length
        padded = _padded(np.asarray(waveform, dtype=np.float32), padding, n_fft // 2)
        # The last frame is dropped, as faster-whisper does (``stft[..., :-1]``).
        frames = 1 + (len(padded) - n_fft) // hop - 1
        window = np.hanning(n_fft + 1)[:-1].astype("float32")
        mel = np.empty((self.mel_filters.shape[0], max(frames, 0)), np.float32)
        for f0 in range(0, frames, self.chunk_frames):
            f1 = min(frames, f0 + self.chunk_frames)
            piece = padded[f0 * hop : (f1 - 1) * hop + n_fft]
            spec = self.stft(
                piece, n_fft, hop, window=window, center=False, return_complex=True
            ).astype("complex64")
            mel[:, f0:f1] = self.mel_filters @ (np.abs(spec) ** 2)
        del padded
        # In place: the result is the only full-length array left.
        np.clip(mel, 1e-10, None, out=mel)
        np.log10(mel, out=mel)
        if mel.size:
            np.maximum(mel, mel.max() - 8.0, out=mel)
        mel += 4.0
        mel /= 4.0
        return mel


def _padded(x: np.ndarray, zeros: int, half: int) -> np.ndarray:
    """``x`` + ``zeros`` zeros, reflect-padded by ``half`` on each side (FeatureExtractor's
    ``np.pad`` then ``stft(center=True)``), built in one copy instead of two."""
    if len(x) + zeros <= half:  # too short to reflect in pieces: as faster-whisper does
        return np.pad(np.pad(x, (0, zeros)), (half, half), mode="reflect")
    n = len(x) + zeros
    out = np.zeros(n + 2 * half, np.float32)
    out[half : half + len(x)] = x
    body = out[half : half + n]
    out[:half] = body[1 : half + 1][::-1]
    out[half + n :] = body[n - half - 1 : n - 1][::-1]
    return out


def install(model: Any) -> None:
    """Give a loaded faster-whisper ``WhisperModel`` the chunked extractor (same settings)."""
    old = model.feature_extractor
    model.feature_extractor = ChunkedFeatureExtractor(
        feature_size=old.mel_filters.shape[0],
        sampling_rate=old.sampling_rate,
        hop_length=old.hop_length,
        chunk_length=old.chunk_length,
        n_fft=old.n_fft,
    )
