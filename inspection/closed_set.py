"""Closed-set scoring of a short customer answer with the Whisper model itself.

A free transcription of a one-second answer in a noisy room is often garbled (清楚了 → 精畜能,
对，是我本人 → 序莫在言). A confirmation question can only take a few answers, so instead of
trusting one free hypothesis, the model is asked how likely each answer of the closed set is
for that stretch of audio (teacher-forced: the log-probability of the answer's tokens and of
the end of text after them, from the same forward pass Whisper uses for word timestamps). The
best answer and its margin over the best answer of another kind go into the evidence; the
script stage uses it only when the free text says nothing clear (never over a hedge or a
negation that was heard), and a small margin is a guess (review), not consent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inspection.answers import AnswerKind

SAMPLE_RATE = 16000

#: The answers scored, by kind. Hedges and negations are listed as fully as the affirmatives
#: so that a hedged answer finds its own, likelier, match instead of the agree word inside it.
CANDIDATES: dict[str, AnswerKind] = {
    **dict.fromkeys(
        (
            "是的", "是的我同意", "同意", "我同意", "可以同意", "好的", "可以", "清楚", "清楚了",
            "我清楚", "都清楚", "明白", "明白了", "没问题", "对", "是我本人", "对是我本人",
            "知道了", "了解",
        ),
        "affirmative",
    ),
    **dict.fromkeys(
        ("不同意", "我不同意", "不清楚", "不明白", "没听懂", "不是", "不知道", "不行"),
        "negative",
    ),
    **dict.fromkeys(
        (
            "不太清楚", "不太明白", "不是很明白", "不是很清楚", "不怎么明白", "还不太懂",
            "没太听明白", "再想想", "什么意思",
        ),
        "unsure",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class ClosedSetScore:
    """The likeliest closed-set answer for a stretch of audio.

    ``logprob`` is its total log-probability (tokens + end of text), ``margin`` how many nats
    it leads the likeliest answer of another kind (0 when that is a tie)."""

    phrase: str
    kind: AnswerKind
    logprob: float
    margin: float
    runner_up: str
    speech_s: float = 0.0  # length of the audio scored


def closed_set_answer(
    score: ClosedSetScore, min_margin: float, max_speech_s: float
) -> tuple[AnswerKind, str, bool]:
    """(kind, phrase, sure): the answer the closed-set score supports, and whether it is sure.

    ``sure`` only for a lead of ``min_margin`` nats in a stretch short enough to hold nothing
    but that answer: the end of text cannot be scored, so a longer reply ("清楚是清楚，不过我再
    想想") would still score its first words; such a reply is a guess (review), never consent."""
    sure = score.margin >= min_margin and score.speech_s <= max_speech_s
    return (score.kind, score.phrase, sure)


class ClosedSetScorer:
    """Scores :data:`CANDIDATES` on audio with a loaded faster-whisper ``WhisperModel``.

    Not thread-safe on its own: call it under the recognizer's lock."""

    def __init__(self, model: Any, language: str = "zh") -> None:
        import zhconv
        from faster_whisper.tokenizer import Tokenizer

        self._model = model
        self._tok = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        # Whisper writes Chinese in either script; each answer is scored as the likelier one.
        self._variants: list[tuple[str, list[int]]] = []
        for phrase in CANDIDATES:
            for text in {phrase, zhconv.convert(phrase, "zh-hant")}:
                self._variants.append((phrase, self._tok.encode(text)))

    def score(self, audio: np.ndarray) -> ClosedSetScore | None:
        """Score ``audio`` (16 kHz mono float32, at most 30 s); None for empty audio."""
        import ctranslate2
        from faster_whisper.audio import pad_or_trim

        if audio.size < SAMPLE_RATE // 10:
            return None
        m = self._model
        features = m.feature_extractor(np.ascontiguousarray(audio, np.float32))
        num_frames = min(int(features.shape[-1]) - 1, 3000)
        enc = np.asarray(m.encode(pad_or_trim(features)))
        # Only the encoder frames of the clip (+1 s) are attended to: 4-5x less CPU than the
        # whole 30 s window (9 -> 2 CPU-s per clip on a loaded box), same ranking on the
        # committed answer clips except one already ambiguous (哦，同意).
        enc = enc[:, : min(enc.shape[1], num_frames // 2 + 50)]
        num_frames = min(num_frames, enc.shape[1] * 2)
        n = len(self._variants)
        batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(enc, n, 0)))
        eot = self._tok.eot
        results = m.model.align(
            batch,
            [*self._tok.sot_sequence, self._tok.no_timestamps],
            [tokens + [eot] for _, tokens in self._variants],
            num_frames,
        )
        best: dict[str, float] = {}
        for (phrase, _), res in zip(self._variants, results, strict=True):
            lp = float(np.sum(np.log(np.maximum(res.text_token_probs, 1e-12))))
            best[phrase] = max(best.get(phrase, -np.inf), lp)
        ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)
        top, top_lp = ranked[0]
        kind = CANDIDATES[top]
        other = next(((p, lp) for p, lp in ranked if CANDIDATES[p] != kind), (top, top_lp))
        return ClosedSetScore(
            phrase=top,
            kind=kind,
            logprob=round(top_lp, 3),
            margin=round(top_lp - other[1], 3),
            runner_up=other[0],
            speech_s=round(audio.size / SAMPLE_RATE, 3),
        )
