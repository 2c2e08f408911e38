"""Teacher-forced text scoring on a loaded faster-whisper model: the plumbing shared by the
customer's closed set (``inspection.closed_set``) and the node texts (``inspection.node_forced``).

Both ask the model how likely given token sequences are for a clip (one encoder pass, then the
sequences forced through the decoder, as Whisper does for word timestamps); both write Chinese
in either script, since Whisper base without a prompt often answers in traditional characters.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Sequences teacher-forced in one ``align`` call (:func:`forced_logprobs`).
ALIGN_BATCH = 16

__all__ = [
    "ALIGN_BATCH",
    "ForcedTextScorer",
    "ModelTurn",
    "encode_clip",
    "forced_logprobs",
    "forced_token_logprobs",
    "written_forms",
]


def written_forms(text: str) -> tuple[str, ...]:
    """``text`` as Whisper may write it: as given (simplified) and in traditional characters
    (one form when they are the same)."""
    import zhconv

    return tuple(dict.fromkeys((text, zhconv.convert(text, "zh-hant"))))


@dataclass(frozen=True)
class ModelTurn:
    """The recogniser's decode lock and work counts: a forced scoring waits for a model replica
    like a decode does, and is counted (the bench and the tests bound the work on noise)."""

    decode_lock: threading.BoundedSemaphore
    counts: Counter[str]
    counts_lock: threading.Lock

    @contextmanager
    def hold(self, kind: str) -> Iterator[None]:
        """Hold a replica for one scoring, counted under ``kind``."""
        with self.decode_lock:
            with self.counts_lock:
                self.counts[kind] += 1
            yield


class ForcedTextScorer:
    """Token sequences of texts and their forced log-probabilities on a clip, on a loaded
    faster-whisper ``WhisperModel``. Not thread-safe on its own: score under the recogniser's
    lock (:class:`ModelTurn`)."""

    def __init__(self, model: Any, language: str = "zh") -> None:
        self._model = model
        self._language = language
        self._tok: Any = None

    @property
    def tokenizer(self) -> Any:
        """Whisper's tokenizer for transcription in ``language`` (built on first use)."""
        if self._tok is None:
            from faster_whisper.tokenizer import Tokenizer

            m = self._model
            self._tok = Tokenizer(
                m.hf_tokenizer, m.model.is_multilingual, task="transcribe", language=self._language
            )
        return self._tok

    def forms(self, text: str) -> list[list[int]]:
        """The token sequences of ``text`` in each script (:func:`written_forms`)."""
        return [self.tokenizer.encode(f) for f in written_forms(text)]

    def start_tokens(self) -> list[int]:
        """The decoder prompt before a forced text: start of transcript, language, task, no
        timestamps."""
        tok = self.tokenizer
        return [*tok.sot_sequence, tok.no_timestamps]

    def forced(
        self, audio: np.ndarray, seqs: list[list[int]], pad_frames: int | None = 50
    ) -> list[tuple[float, int]]:
        """(total log-probability, tokens) of each of ``seqs`` on ``audio`` (16 kHz mono, at
        most 30 s heard; encoder frames as :func:`encode_clip`)."""
        enc, num_frames = encode_clip(self._model, audio, pad_frames)
        return forced_logprobs(self._model, enc, num_frames, self.start_tokens(), seqs)

    def forced_tokens(
        self, audio: np.ndarray, seqs: list[list[int]], pad_frames: int | None = 50
    ) -> list[np.ndarray]:
        """The log-probability of every token of each of ``seqs`` on ``audio``."""
        enc, num_frames = encode_clip(self._model, audio, pad_frames)
        return forced_token_logprobs(self._model, enc, num_frames, self.start_tokens(), seqs)


def encode_clip(
    model: Any, audio: np.ndarray, pad_frames: int | None = 50
) -> tuple[np.ndarray, int]:
    """Whisper's encoder output for ``audio`` (16 kHz mono float32, at most 30 s are heard)
    and the number of mel frames to attend to, for :func:`forced_logprobs`.

    By default only the encoder frames of the clip (+1 s, ``pad_frames`` of 20 ms) are kept:
    4-5x less CPU than the whole 30 s window (9 -> 2 CPU-s per clip on a loaded box), same
    ranking on the committed answer clips except one already ambiguous (哦，同意). Not for
    clips of many seconds (``pad_frames=None``: the whole window): on an 11 s reminder in
    babble the recogniser's own reading scored -2.6 nats per token cut so, -0.33 with 5 s kept
    and -0.36 whole (docs/inspection.md)."""
    from faster_whisper.audio import pad_or_trim

    features = model.feature_extractor(np.ascontiguousarray(audio, np.float32))
    num_frames = min(int(features.shape[-1]) - 1, 3000)
    enc = np.asarray(model.encode(pad_or_trim(features)))
    if pad_frames is not None:
        enc = enc[:, : min(enc.shape[1], num_frames // 2 + pad_frames)]
    return enc, min(num_frames, enc.shape[1] * 2)


def forced_logprobs(
    model: Any, enc: np.ndarray, num_frames: int, start: list[int], seqs: list[list[int]]
) -> list[tuple[float, int]]:
    """(total log-probability, tokens) of each token sequence in ``seqs`` teacher-forced on
    the encoded clip ``enc`` (:func:`encode_clip`) after the prompt ``start``.

    Teacher-forced: the probability of each token given the audio and the tokens before it.
    No end-of-text token: Whisper ends a reply with "。" first, so its probability right after
    the answer says nothing (measured: -11 to -18 nats). At most ALIGN_BATCH sequences per
    call: the decoder keeps every layer's keys and values of the audio per sequence, so the 94
    at once of a 6 s region took 544 MB (16 at a time: 112 MB), twice over when two regions
    were scored side by side (the babble probe's peak RSS). Each sequence is scored on its own
    in the batch: the same scores (bit for bit on the committed answer clips)."""
    lps = forced_token_logprobs(model, enc, num_frames, start, seqs)
    return [(float(np.sum(lp)), len(seq)) for lp, seq in zip(lps, seqs, strict=True)]


def forced_token_logprobs(
    model: Any, enc: np.ndarray, num_frames: int, start: list[int], seqs: list[list[int]]
) -> list[np.ndarray]:
    """The log-probability of every token of each of ``seqs`` (as :func:`forced_logprobs`)."""
    import ctranslate2

    out: list[np.ndarray] = []
    for i in range(0, len(seqs), ALIGN_BATCH):
        part = seqs[i : i + ALIGN_BATCH]
        batch = ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.repeat(enc, len(part), 0))
        )
        results = model.model.align(batch, start, part, num_frames)
        out += [np.log(np.maximum(r.text_token_probs, 1e-12)) for r in results]
    return out
