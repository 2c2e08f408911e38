"""The thresholds of the inspection: every tunable number, its default and what it means."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any


def _h(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Thresholds:
    """Every tunable number of the inspection, with its default and what it means."""

    # Speech and script
    node_similarity: float = _h(
        0.6,
        "Minimum character+pinyin similarity (0-1) between a template node and the best-matching transcript window for the node to count as spoken; a node's min_similarity overrides it.",
    )
    reminder_similarity: float = _h(
        0.75,
        "Minimum similarity (0-1) for the fixed recording reminder (R3, the node with role: reminder) to count as read.",
    )
    node_key_score: float = _h(
        0.45,
        "A node also counts as spoken when this share (0-1) of its content syllable pairs (toneless pinyin bigrams without function characters, any order) is said in a stretch 1.3x its length: the insurer's own wording and ASR homophone errors (inspection/node_content.py).",
    )
    node_slot_similarity: float = _h(
        0.45,
        "A node no window matched (neither node_similarity nor node_key_score) still counts as spoken when the speech in its slot (between the nodes found before and after it, within its teleprompter window when there is one) is at least 0.7x its length and its best window reaches this similarity; the recording reminder must also keep every clause (inspection/node_slot.py).",
    )
    node_slot_partial_similarity: float = _h(
        0.35,
        "Below node_slot_similarity, a slot holding at least 0.4x the node's length of speech that reaches this similarity is partial evidence: the node's finding (script.node_missing, reminder.missing, consent.missing) is review, not fail.",
    )
    node_forced: bool = _h(
        True,
        "Score a salesperson node that is not covered against the audio of its slot with Whisper's likelihood of its own text, compared with every other salesperson node's text (inspection/node_forced.py); see node_forced_margin.",
    )
    node_forced_margin: float = _h(
        0.8,
        "When node_forced is on and a node's text leads every other node's text on its slot's audio by this many nats per token, its finding moves one step: review (partial, unheard) -> covered, fail (absent) -> review.",
    )
    node_forced_clause_margin: float = _h(
        -0.3,
        "The recording reminder moves that step only when, besides its whole text leading by node_forced_margin, none of its clauses, each scored after the clauses before it, trails what could follow there instead (a later clause, the next node, the whole text's rival; a rival longer than the clause weighed on the clause's length) by more than this many nats per token (dev-made slots: a reading in full in other words at least +0.15, a dropped clause at most -0.61): a reading that drops a clause stays a finding (inspection/node_forced.py).",
    )
    answer_window_s: float = _h(
        15.0,
        "Seconds after the end of a question in which the customer's answer is looked for (after a question back, from the end of the salesperson's reply; never past 1 s after the next node of the template starts); no answer in this window is a missing answer (silence is not consent).",
    )
    forbidden_similarity: float = _h(
        0.9,
        "Minimum fuzzy (character+pinyin) similarity for a spoken stretch to count as a forbidden phrase; 1.0 means exact matches only. Below it, a phrase of 4+ characters heard with one syllable off (稳定不赔 for 稳赚不赔) or in sound-alike syllables is still a review.",
    )
    asr_low_confidence: float = _h(
        0.5,
        "Utterances whose mean Whisper word probability (0-1) is below this are low-confidence.",
    )
    asr_min_speech_s: float = _h(
        10.0,
        "Speech recognition confidence is judged only for participants with at least this much recognised speech (s); a few short answers are too little to judge.",
    )
    asr_low_share: float = _h(
        0.5,
        "media.quality when more than this share (0-1) of a participant's speech time is low-confidence.",
    )
    asr_initial_prompt: str = _h(
        "",
        "Text given to Whisper as its decoding prompt; empty (the default) = none. The domain prompt inspection.speech.DEFAULT_PROMPT made Whisper emit full-width garbage tokens and lose short answers on noisy calls (docs/inspection.md). Never put text here that the checks look for.",
    )
    asr_beam_size: int = _h(
        5,
        "Whisper beam size: 5 is the most accurate; 1 takes about half the CPU for ~2 points more character errors (docs/inspection.md).",
    )
    answer_min_confidence: float = _h(
        0.5,
        "A customer answer that is not a clear yes is reported with severity review instead of fail when the mean recognition probability (0-1) of its words is below this.",
    )
    answer_cohort: bool = _h(
        False,
        "Normalise a customer answer that is still a closed-set guess by the room's own scores (8 noise-only clips of the customer's track; inspection/answer_cohort.py) before deciding it. Off by default: calibrated to pass no hazard, it passed no extra yes on the dev-made babble probes (the reviewed yeses that led were in regions too long to trust) and costs ~17 CPU-s per session, which puts a 20-minute session in babble over the RTF 0.1 budget.",
    )
    answer_room_margin_db: float = _h(
        20.0,
        "An answer window with no customer speech found is a missing answer (fail) only when the customer's own speech (the median peak of their decoded utterances) stands at least this many dB above the window's noise (the 90th percentile of its 20 ms frame levels); below it the room is too loud to tell silence from a quieter answer, and the finding is review with the levels in its evidence (reason room_too_loud). Measured on dev-made probes: quiet dev rooms 23-38 dB, hum 15 dB 24-26, babble 15 dB 18-21, babble 10 dB 12-15 (docs/inspection.md).",
    )
    number_min_confidence: float = _h(
        0.5,
        "speech.number_mismatch is review instead of fail when the spoken number's recognition probability is below this: for a number whose recognised characters are known, the probability that the mismatch is real (inspection/number_doubt.py: 1 - P(the characters that would have to be misheard for the policy's value all were)); otherwise the lowest probability of its characters.",
    )
    number_unheard_review: bool = _h(
        True,
        "A covered node that states the cooling-off days (its template's {cooling_off_days}) with no number of days recognised anywhere in the salesperson's speech, nor the policy's number in the node's own words, is a speech.number_mismatch review (evidence reason not_heard): the number said cannot be compared (inspection/number_unheard.py; the frozen test split's test07 stated the wrong days, heard as 有期间犹豫期, and passed). false: such a node passes, as before.",
    )
    number_sure_confidence: float = _h(
        0.8,
        "speech.number_mismatch is review instead of fail when the probability that the mismatch is real is below this: the characters of the numeral as recognised that would have to be misheard for the policy's value (one numeral for another, a syllable too many or one dropped; the most plausible set of one or two, the three weakest when none explains it), as 1 - the product of their miss probabilities (二十年 heard as 三十年 with 三 at 0.6: 0.6; dev06's 一万五千 for 12000 with 一 at 0.11 and 五 at 0.99: 0.89). Tuned on dev: Whisper's probabilities of correctly heard numerals were under 0.8 for 23% of them (0.9: 43%), the misheard one was at 0.77.",
    )
    forbidden_min_confidence: float = _h(
        0.5,
        "An exact speech.forbidden_phrase hit is review instead of fail when the lowest recognition probability (0-1) of its characters is below this.",
    )
    # Faces
    face_fps: float = _h(
        1.0,
        "Frames per second sampled from each video for faces, image quality and document OCR (face detection is most of the video stage's cost).",
    )
    face_absent_max_s: float = _h(
        5.0,
        "Longest allowed time (s) a participant's face may be missing from their own picture (R12); recorded gaps and document-showing windows are excluded.",
    )
    face_min_size_px: float = _h(
        48.0,
        "Faces smaller than this (px, shorter box side) do not count as present or as an extra person (e.g. the photo on an ID card held up).",
    )
    face_min_score: float = _h(0.6, "Minimum YuNet detection score for a face to count.")
    face_detect_width: int = _h(
        320,
        "Width (px) frames are scaled to for the first, cheap face-detection pass; only frames where it does not see exactly one large, clear face are detected again at full resolution (inspection/faces.py detect_cascade). 0 = always full resolution.",
    )
    extra_person_min_s: float = _h(
        2.0,
        "An extra face must be seen for at least this long (s) in one picture to be reported (R12, R18).",
    )
    face_match_cosine: float = _h(
        0.363,
        "Minimum SFace cosine similarity between the live face and the ID-card photo or a reference photo (OpenCV's suggested 0.363).",
    )
    face_fail_cosine: float = _h(
        0.25,
        "face.identity_mismatch is fail only when the live face's cosine with the ID-card photo (its best frame) or the reference photo is below this; from here up to face_match_cosine it is review. Measured on card photos held up at angles, blurred and under glare (~45-65 px): same person min 0.245, 5th percentile 0.45; different people median 0.12, 95th percentile 0.32, max 0.45 (docs/inspection.md).",
    )
    face_fail_min_frames: int = _h(
        2,
        "face.identity_mismatch against the ID-card photo is fail only when at least this many card-photo frames were compared (and all scored below face_fail_cosine); otherwise review.",
    )
    card_face_max_ratio: float = _h(
        0.7,
        "During the ID-card node, a face smaller than this share of the live face's size is taken as the card's photo.",
    )
    # Documents
    document_pad_s: float = _h(
        5.0,
        "Seconds added after a document node's spoken end when looking for the document on video (the customer holds it up after being asked).",
    )
    ocr_frames: int = _h(3, "Sharpest frames per document window that are OCR'd.")
    id_name_similarity: float = _h(
        0.85,
        "Minimum similarity (0-1) between the name read from the ID card and the policy's customer name.",
    )
    signature_similarity: float = _h(
        0.75,
        "Minimum similarity (0-1) between the signed name read by OCR and the customer's name (names of 3+ characters also pass with one misread character).",
    )
    risk_sentence_similarity: float = _h(
        0.85,
        "Minimum similarity (0-1) between the hand-copied risk sentence read by OCR and the template's risk_sentence (R13).",
    )
    risk_sentence_min_chars: int = _h(
        8,
        "Fewer characters of the risk sentence than this (in runs of 2+) in the best-matching stretch of the signature page means it was not copied at all (missing rather than mismatch).",
    )
    # Media quality
    audio_silence_dbfs: float = _h(
        -50.0, "Audio windows (0.5 s) quieter than this (dBFS) are silence."
    )
    audio_quiet_dbfs: float = _h(
        -38.0,
        "media.quality when a participant's median speech level is below this (dBFS): too quiet to be clearly identifiable (R14).",
    )
    audio_min_snr_db: float = _h(
        6.0,
        "media.quality when a participant's speech stands less than this (dB) above the room's noise floor (quality.AudioQuality.snr_db): drowned in noise. The corpus rooms (10-25 dB SNR, pink, fan, babble, hum) measure 10-30 dB.",
    )
    asr_unclear_max_snr_db: float = _h(
        8.0,
        "Low recognition confidence (asr_low_share) is reported as media.quality only when the participant's measured SNR is below this (dB): on clean-enough audio it says the recogniser is weak (short answers, babble heard as words), not that the recording is bad. None measured = always.",
    )
    audio_clipped_share: float = _h(
        0.01, "media.quality when more than this share (0-1) of samples is clipped."
    )
    dark_luma: float = _h(40.0, "Frames whose mean luma (0-255) is below this are dark.")
    blur_laplacian: float = _h(
        25.0, "Frames whose variance of the Laplacian (at 640 px width) is below this are blurred."
    )
    bad_frames_share: float = _h(
        0.3,
        "media.quality when more than this share (0-1) of a participant's sampled frames is dark, or blurred.",
    )
    # Continuity
    max_gap_s: float = _h(
        2.0,
        "Recording interruptions (gaps between a participant's segments) longer than this (s) are reported as media.gap (R16).",
    )

    @classmethod
    def help(cls) -> dict[str, str]:
        """Name -> help text of every threshold."""
        return {f.name: f.metadata["help"] for f in fields(cls)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Thresholds:
        """Build from a mapping, rejecting unknown names."""
        default = cls()
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown threshold(s): {', '.join(unknown)}")
        return replace(default, **{k: type(getattr(default, k))(v) for k, v in data.items()})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
