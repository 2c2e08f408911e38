"""Closed-set scoring (``inspection.closed_set``) of the customer's short speech regions on the
speech recogniser's Whisper model: a region as it is decoded, the deferred regions in answer
windows once the script stage has placed them, and clips of the room's noise.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from inspection.answers import classify_answer
from inspection.closed_set import ClosedSetScore, ClosedSetScorer, hypothesis_forms
from inspection.speech_regions import TrackLevels
from inspection.speech_types import SAMPLE_RATE, DecodeOptions, Utterance


class AnswerScoring:
    """Closed-set scores on ``SpeechRecognizer``'s loaded model, sharing its decode lock and
    its work counts (a scoring is a decode: it waits for a replica like one)."""

    def __init__(
        self,
        model: Any,
        options: DecodeOptions,
        decode_lock: threading.BoundedSemaphore,
        counts: Counter[str],
        counts_lock: threading.Lock,
        workers: int,
    ) -> None:
        self.options = options
        self.workers = workers
        self._model = model
        self._lock = decode_lock
        self._counts = counts
        self._counts_lock = counts_lock
        self._scorer_lock = threading.Lock()
        # Built on first use: tracks without answers never pay for the candidates' tokens.
        self._scorer: ClosedSetScorer | None = None

    def score_regions(
        self,
        audio: np.ndarray,
        utts: list[Utterance],
        spans: list[tuple[float, float]],
        offset_s: float = 0.0,
    ) -> list[Utterance]:
        """``utts`` (of ``SpeechRecognizer.transcribe(..., defer_closed_set=True)`` on
        ``audio``, which starts at ``offset_s``) with the closed-set scores of the deferred
        regions that overlap one of ``spans`` (session seconds), as ``transcribe`` would have
        given them: in each span at most ``closed_set_per_window`` regions, the loudest."""
        o = self.options
        regions = sorted({u.region_s for u in utts if u.region_s is not None and not u.closed_set})
        samples = [
            (max(0, round((a - offset_s) * SAMPLE_RATE)), round((b - offset_s) * SAMPLE_RATE))
            for a, b in regions
        ]
        levels = TrackLevels.of(np.asarray(audio, dtype=np.float32), o.noise_percentile)
        peaks = dict(zip(regions, levels.peaks(samples), strict=True))
        # Regions nobody read a word in (no louder than the room, or nothing decoded).
        unheard = set(regions) - {u.region_s for u in utts if u.text}
        faint = faint_regions(peaks, unheard, o.faint_region_below_speech_db)
        todo: set[tuple[float, float]] = set()
        for w0, w1 in spans:
            inside = [r for r in regions if r[0] <= w1 and w0 <= r[1] and r not in faint]
            # In babble a window holds several regions of noise: the loudest are the answer.
            inside.sort(key=lambda r: peaks[r], reverse=True)
            todo.update(inside[: o.closed_set_per_window])

        def scored(region: tuple[float, float]) -> list[Utterance]:
            r0, r1 = region
            lo = max(0, round((r0 - offset_s) * SAMPLE_RATE))
            hi = min(len(audio), round((r1 - offset_s) * SAMPLE_RATE))
            mine = [u for u in utts if u.region_s == region]
            empty = [u for u in mine if not u.text and u.uncertain is not None]
            said = [u for u in mine if u not in empty]
            clip = np.ascontiguousarray(audio[lo:hi], dtype=np.float32)
            out = self.region(clip, said, mine[0].participant, r0)
            if not said and len(out) == 1 and out[0].closed_set is not None:
                return [replace(empty[0], closed_set=out[0].closed_set)]
            return out if said else empty

        # Each region alone, on as many threads as the model has replicas: these scorings wait
        # for the whole salesperson transcript and hold up the script stage (the babble
        # probe: 7 scorings, 50 s of wall on one lane under load).
        jobs = sorted(todo)
        if len(jobs) > 1 and self.workers > 1:
            with ThreadPoolExecutor(min(self.workers, len(jobs)), "kesu-closed-set") as pool:
                results = list(pool.map(scored, jobs))
        else:
            results = [scored(r) for r in jobs]
        done = set(jobs)
        rest = [u for u in utts if u.region_s not in done]
        return sorted(rest + [u for r in results for u in r], key=lambda u: u.start_s)

    def score_clip(self, clip: np.ndarray, count: str = "closed_set_room") -> ClosedSetScore | None:
        """The closed-set score of ``clip`` alone (16 kHz mono): the room's noise regions of
        ``inspection.answer_cohort``, or an answer's words (``inspection.answer_span``), counted
        under ``count``."""
        with self._lock:
            scorer = self._loaded()
            with self._counts_lock:
                self._counts[count] += 1
            return scorer.score(clip)

    def region(
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
        # A yes read on trusted words is weighed as said against its own negations
        # (closed_set.hypothesis_forms), not only against the short answers of the set.
        heard = (
            hypothesis_forms(text, c.phrase or "")
            if utts
            and sure
            and c.kind == "affirmative"
            and c.score >= 1.0
            and o.closed_set_hypothesis
            else None
        )
        with self._lock:
            scorer = self._loaded()
            with self._counts_lock:
                self._counts["closed_set"] += 1
            score = scorer.score(clip, heard)
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

    def _loaded(self) -> ClosedSetScorer:
        """The scorer, built once; called under the decode lock (it reads the model)."""
        with self._scorer_lock:
            if self._scorer is None:
                self._scorer = ClosedSetScorer(self._model, self.options.language)
            return self._scorer


def faint_regions(
    peaks: dict[tuple[float, float], float],
    unheard: set[tuple[float, float]],
    below_db: float,
) -> set[tuple[float, float]]:
    """The regions of ``unheard`` (no word read in them) whose peak (dB above the track's
    noise floor) stands more than ``below_db`` below the customer's own speech: the median
    peak of the regions with words. In a quiet room such a region is someone else (a TV,
    voices next door), not an answer; in a loud one the customer's speech stands too little
    above the room for any region to fall that far below it."""
    heard = [p for r, p in peaks.items() if r not in unheard]
    if not heard:
        return set()
    level = float(np.median(heard))
    return {r for r, p in peaks.items() if r in unheard and p < level - below_db}
