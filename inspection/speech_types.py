"""Records of speech recognition (words, utterances) and the decoding settings, shared by the
recogniser (``inspection.speech``), its region finder and its segment post-filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inspection.closed_set import ClosedSetScore

SAMPLE_RATE = 16000

#: Why a stretch of speech is kept but not trusted (Utterance.uncertain).
UNCERTAIN_REASONS = (
    "low_confidence",
    "unrecognised",
    "repetition",
    "too_fast",
    "hallucination",
    # A customer region no louder than the room's noise (babble): not decoded, no text; only
    # its closed-set scores are read (DecodeOptions.min_peak_db).
    "not_above_room",
    # No speech region, but the customer's track stands min_peak_db above the room in an answer
    # window that holds nothing else: speech nobody read (inspection.answer_energy).
    "voice_energy",
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
    #: The decoded region (session seconds, with its padding) of a short customer region whose
    #: closed-set scoring was deferred (``AnswerScoring.score_regions``); else None.
    region_s: tuple[float, float] | None = field(default=None, compare=False, repr=False)

    @property
    def confidence(self) -> float:
        """Mean word probability (or exp(avg_logprob) without words), 0..1."""
        if self.words:
            return float(np.mean([w.probability for w in self.words]))
        return float(np.exp(self.avg_logprob))


@dataclass(frozen=True)
class Region:
    """One speech region of a track, decoded on its own: samples ``[a, b)`` of the track (VAD
    padding included); ``weak``: nothing in it stands above the room's noise (not decoded)."""

    a: int
    b: int
    weak: bool = False


def region_groups(regions: list[Region], size: int) -> list[list[Region]]:
    """``regions`` in order, cut into runs of about ``size`` samples of region audio each
    (a run ends once it holds ``size``), for decoding the runs on several lanes."""
    groups: list[list[Region]] = []
    held = size
    for r in regions:
        if held >= size:
            groups.append([])
            held = 0
        groups[-1].append(r)
        held += r.b - r.a
    return groups


#: The temperature of the one fallback decode of a window whose decode at 0 looks like a loop or
#: is unsure: greedy, deterministic. faster-whisper decodes above 0 by sampling, and
#: CTranslate2 samples from a thread-local generator seeded from ``std::random_device``
#: (``ctranslate2.set_random_seed`` reaches only threads that have not drawn yet, and which
#: replica's thread takes a decode is not fixed), so a fallback at 0.4 read differently on
#: each run: 1-2 of the 18 frozen test sessions had another salesperson transcript on each
#: run of the same code. At this temperature the sampled distribution is the most likely
#: token with probability 1: the draw is always that token. Being above 0 it still counts as
#: a fallback, so faster-whisper resets the prompt after it (``prompt_reset_on_temperature``)
#: and uses beam 1: a second reading unlike the first. Without any fallback (0 only) the
#: babble probe read worse (docs/inspection.md, "Deterministic decoding").
FALLBACK_TEMPERATURE = 1e-6


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
    # Whole-track decodes: a window decoded at a temperature above this does not pass its text
    # on as the next window's prompt (faster-whisper's default 0.5 never resets with the
    # temperatures below, so a repetition loop was carried from window to window: the babble
    # probe's salesperson lost 6 nodes to "您有提供…"). Only windows that fell back change.
    # 0.0: every fallback resets it (the fallback is at FALLBACK_TEMPERATURE, below).
    prompt_reset_on_temperature: float = 0.0
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
    # Silero's threshold on energy-gated tracks: the gate already keeps noise out, and at 0.5
    # Silero missed a whole short answer (dev04: "同意", 0.7 s, over a lossy link: no region,
    # so a false "no answer"); at 0.25 it found it, and the gate cut the extra babble.
    gated_vad_threshold: float = 0.25
    # ... and on those tracks, stretches this far above the noise floor are decoded even where
    # Silero finds no speech at all (0 = never): dev16's "嗯，都清楚" (38 dB above the floor)
    # had no VAD region. Room noise at 10-25 dB SNR stays below it.
    rescue_margin_db: float = 20.0
    energy_margin_db: float = 8.0
    # On gated tracks, a region whose loudest 20 ms stands less than this above the noise
    # floor has nothing louder than the room: it is not decoded but kept as uncertain speech
    # without text (not_above_room), closed-set scored in an answer window. Babble at 10 dB
    # SNR peaked 8-20 dB above the floor (median 10.3, 138 regions of dev16 re-rendered), the
    # answers in it 17.7-26 dB; every answer region of the dev split 23-47 dB
    # (scripts/make_noisy_probe.py, docs/bench.md).
    min_peak_db: float = 16.0
    # ... and on these participants' tracks such a region (of Silero alone) is neither decoded
    # nor kept: the salesperson's reading pauses in babble. Decoded whole, the track has them
    # silenced first (VAD then skips them); decoded per region, they are dropped. On the
    # 18-minute babble probe 13 of the salesperson's 31 regions (341 s) were babble alone,
    # peaking 9-14.4 dB above the floor, and the whole-track decode spent most of its CPU on
    # them for no words (480-780 s: > 118 CPU-s); every salesperson speech region of the dev
    # split and of the probes peaks at least 25 dB above it, so on dev nothing is silenced.
    # With the prompt reset after a fallback window (prompt_reset_on_temperature): without it
    # the silenced probe's decode fell into a "您有提供" loop carried from window to window.
    skip_quiet_for: tuple[str, ...] = ("salesperson",)
    # ... and there the regions left are joined across pauses shorter than this, up to
    # ``region_max_s``: decoded one sentence at a time (regions split at 1 s pauses) the
    # salesperson's script lost context and characters (dev00: CER 24.6 % vs 20.4 % whole).
    context_merge_gap_s: float = 6.0
    noise_percentile: float = 20.0
    min_voiced_s: float = 0.3
    # ... but a VAD span with at least this much energetic audio and no stretch that long is
    # kept whole (``speech_regions._gated``): a short answer in loud noise.
    min_hot_s: float = 0.1
    voiced_gap_s: float = 0.3
    # Temperature fallback re-decodes a region up to 5 times when the output looks like a
    # loop; on noise this cost up to 38 CPU-s per second of audio and returned garbage anyway.
    # One fallback, greedy and the same on every run (FALLBACK_TEMPERATURE): it was sampled at
    # 0.4, and a session inspected twice read differently (tests/test_speech_determinism.py).
    temperatures: tuple[float, ...] = (0.0, FALLBACK_TEMPERATURE)
    # ... and none on energy-gated tracks (the customer's): in babble nearly every region
    # "failed" at temperature 0 and was decoded again for more garbage (test16: 903 s for a
    # 1,095 s session). A short answer that decodes badly is closed-set scored instead.
    gated_temperatures: tuple[float, ...] = (0.0,)
    # No decode generates more than this many tokens per second of its audio (+16): fast
    # Mandarin is ~6 characters per second; a repetition loop is cut off early.
    max_tokens_per_s: float = 12.0
    # Closed-set scoring of short regions of these participants whose free text is unclear
    # (garbled, unrecognised, uncertain, or only close to an answer): inspection.closed_set.
    closed_set_for: tuple[str, ...] = ("customer",)
    closed_set_max_s: float = 6.0
    # ... and, when deferred (``transcribe(..., defer_closed_set=True)``), longer regions with
    # decoded words too: in babble a short answer can sit in a region of 8-12 s (the room glued
    # to it), whose closed set is then the guard for rescoring the span of its words
    # (inspection.answer_span). Before, such an answer was never closed-set scored at all (a
    # p20 probe's "嗯，清楚了" heard as 心处的 in an 8.6 s region: `review`).
    closed_set_long_worded: bool = True
    # ... scored after the script stage, only in answer windows, at most this many per window
    # (the loudest): in babble a 15 s window holds several regions of noise, 2-3 CPU-s each.
    closed_set_per_window: int = 4
    # ... leaving out a region nobody read a word in (not_above_room, or nothing decoded)
    # whose loudest 20 ms stands more than this below the customer's own speech (the median
    # peak of their regions with words): in a quiet room that is not the customer but a TV or
    # voices next door, and its closed set vetoed a sure yes (a dev probe with faint babble 33
    # dB under the customer: such regions peaked 10-12 dB above the floor, the answers 42-48;
    # one put 什么意思 first with the yes's negated form 3.4 nats ahead: the id-card yes went
    # to review). In loud rooms the answers peak 17.7-26 dB above the floor (babble 10 dB),
    # under this margin above any region the gate keeps (8 dB): nothing is left out there.
    faint_region_below_speech_db: float = 20.0
    # ... and of regions whose words are this unsure even when they read as a clear answer
    # (the script stage re-checks such a yes: ScriptSettings.closed_set_below_confidence).
    closed_set_below_confidence: float = 0.5
    # ... and of every short region, also one whose words read as a clear, sure yes: the
    # script stage does not pass a yes the model itself hears as a hedge or a refusal (dev04:
    # "不是很明白" decoded as "不需很明白" at p 0.67 read as 明白).
    closed_set_every_region: bool = True
    # ... and, when the words read as a yes at closed_set_below_confidence or more, that yes
    # as decoded is scored too, as a yes, with its negated forms (closed_set.hypothesis_forms):
    # the set's short answers alone let 不明白 beat a clearly heard 我都明白 (false review).
    closed_set_hypothesis: bool = True
    # Tracks of these participants decoded whole have their lost stretches decoded again
    # (``inspection.speech_lost``): speech regions standing above the room with no words read
    # for ``lost_min_s`` or more (nothing, or a loop), cut at their quietest moments into pieces
    # of about ``lost_piece_s``, each decoded alone without a prompt; a piece's utterances of
    # fewer than ``lost_min_chars`` characters are dropped ("是吧" read from babble). On the
    # babble probe (salesperson babble 10 dB) 8 s pieces read lines the whole-track decode had
    # lost (dev09: 8 of 13 lines lost, then 3; docs/inspection.md). Empty: never.
    recover_lost_for: tuple[str, ...] = ("salesperson",)
    lost_min_s: float = 3.0
    lost_piece_s: float = 8.0
    lost_min_chars: int = 4
    # ... decoded at these temperatures. At 0 only, probe C read worse (dev09's left-out
    # reminder a review instead of a fail, dev01 a false reminder fail); on the 18-minute
    # babble probe the fallback (then sampled at 0.4) cost 43 CPU-s instead of 35 (6 of 9
    # pieces fell back).
    lost_temperatures: tuple[float, ...] = (0.0, FALLBACK_TEMPERATURE)
    # Speech of these participants is never dropped: what the filters above reject is kept,
    # marked uncertain, for the rules to turn into review evidence (a refusal must not vanish).
    keep_uncertain: tuple[str, ...] = ("customer",)
