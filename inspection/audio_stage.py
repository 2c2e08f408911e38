"""The audio and speech stages of a run: each participant's audio loaded and measured, its
speech queued on the lanes as independent decodes (groups of regions, pieces of a track
decoded whole, or pause-cut pieces), and the pieces joined into one transcript."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING

from inspection import heap
from inspection.audio_pieces import pause_cuts
from inspection.inputs import PARTICIPANTS, InputError
from inspection.lanes import Lanes
from inspection.media import MediaError, load_audio
from inspection.quality import audio_quality
from inspection.report import Participant
from inspection.rules import AudioLevels, Thresholds
from inspection.run_state import RunState
from inspection.speech_types import Region, region_groups

if TYPE_CHECKING:
    from inspection.speech import SpeechRecognizer
    from inspection.speech_cuts import WholeTrack

SAMPLE_RATE = 16000
# With ``speech_piece_s`` > 0 a whole-track speech decode (the salesperson's) is cut into
# pieces of about that length at a pause within PIECE_SEARCH_S of the nominal cut: the
# pieces are shared out between the lanes, and faster-whisper's spectrogram of a piece stays
# small (see audio_pieces). Off by default: on dev16 (1,066 s) pieces of PIECE_S decoded a
# stretch 140 s after the last cut differently (30 s windows fall elsewhere), which lost a
# rider node and added three sound-alike forbidden-phrase reviews on a clean session; the
# whole track on one lane already balances the customer's speech and both video scans.
PIECE_S = 300.0
PIECE_SEARCH_S = 30.0
# A track decoded region by region (the customer's; optionally the salesperson's) is queued as groups of
# consecutive regions of about this much audio each: the groups are independent, so the lanes
# share them out and both cores work until the last group, whatever else each lane runs.
REGION_GROUP_S = 60.0


@dataclass(frozen=True)
class AudioStage:
    """How one run loads audio and shares its speech decodes out between the lanes.

    ``piece_s``: length of the pause-cut pieces of a track decoded whole (0: none);
    ``region_group_s``: audio per task of a track decoded region by region;
    ``whole_track_pieces``: at most this many pieces a track decoded whole is cut into at
    long gaps between its speech (``Inspector`` passes its lane count for 0)."""

    speech: SpeechRecognizer
    thresholds: Thresholds
    piece_s: float
    region_group_s: float
    whole_track_pieces: int

    def load(self, run: RunState, lanes: Lanes, who: Participant) -> None:
        """Load one participant's audio, measure it, and queue its speech pieces."""
        th = self.thresholds
        tracks = run.inp.tracks(who)
        groups: list[list[Region]] = []
        whole = None  # the track prepared for decoding whole, in pieces at long gaps
        if tracks:
            try:
                audio = load_audio(tracks, SAMPLE_RATE)
            except MediaError as exc:
                raise InputError(str(exc)) from None
            q = audio_quality(audio, SAMPLE_RATE, silence_dbfs=th.audio_silence_dbfs)
            with run.lock:
                run.audio[who] = audio
                run.levels[who] = AudioLevels(
                    who, q.speech_dbfs, q.clipped_share, q.duration_s, q.snr_db
                )
                run.pieces[who] = {}
            if self.speech.per_region(who):
                # VAD and the levels over the whole track (one noise floor), then the regions
                # in groups: independent decodes, shared out between the lanes.
                regions = self.speech.regions(audio, who)
                groups = region_groups(regions, int(self.region_group_s * SAMPLE_RATE))
            elif self.piece_s > 0:
                groups = [
                    [Region(lo, hi)]
                    for lo, hi in pause_cuts(audio, SAMPLE_RATE, self.piece_s, PIECE_SEARCH_S)
                ]
            else:
                # Quiet regions silenced and the cuts chosen over the whole track (one noise
                # floor); the pieces then decode on the lanes side by side.
                whole = self.speech.prepare_whole(audio, who, self.whole_track_pieces)
                groups = [[Region(lo, hi)] for lo, hi in whole.pieces]
                with run.lock:
                    # Only the speech reads this track from now on: the silenced copy (when
                    # there was anything to silence) replaces it instead of doubling it.
                    run.audio[who] = whole.samples
            with run.lock:
                run.speech_pieces[who] = len(groups)
        with run.lock:
            run.audio_done += 1
            run.progress.stage("audio", run.audio_done / len(PARTICIPANTS))
        names = []
        for group in groups:
            lo, hi = group[0].a, group[-1].b
            name = f"speech:{who}:{lo}"
            names.append(name)
            # The customer's track first (its closed-set scoring waits for the script), then
            # the longest pieces.
            prio = 25.0 if who == "customer" else 20.0 + (hi - lo) / SAMPLE_RATE / 1e4
            piece = whole.pieces.index((lo, hi)) if whole is not None else 0
            task = partial(self.decode, run, who, group, whole, piece)
            lanes.add(name, "speech", task, (), prio)
        join = partial(self.join, run, who, whole)
        after = list(names)
        if whole is not None and who in self.speech.options.recover_lost_for:
            # The other party's transcript first: its speech accounts for time on this track
            # too (the customer's question heard on the salesperson's track is no lost line).
            after += [f"speech:{p}" for p in PARTICIPANTS if p != who]
        lanes.add(f"speech:{who}", "speech", join, after, 50)

    def decode(
        self,
        run: RunState,
        who: Participant,
        group: list[Region],
        whole: WholeTrack | None,
        piece: int,
    ) -> None:
        """Decode ``group`` of ``who``'s track: regions, or piece ``piece`` of a track decoded
        whole (``whole``: prepared by ``prepare_whole``, the piece decoded after the track's
        prefix from its lead-in, ``WholeTrack.decode_input``), or a pause-cut piece."""
        audio = run.audio[who]
        # The customer's short regions are closed-set scored after the script stage, and only
        # in answer windows (score_answer_regions): in babble most regions are in none.
        defer = who == "customer"
        if self.speech.per_region(who):
            utts = self.speech.transcribe_regions(audio, who, group, 0.0, defer)
        elif whole is not None:
            lo = group[0].a
            samples, origin = whole.decode_input(piece)
            keep = lo / SAMPLE_RATE if origin < lo else None
            utts = self.speech.transcribe_whole(
                samples, who, origin / SAMPLE_RATE, keep_from_s=keep
            )
        else:
            lo, hi = group[0].a, group[0].b
            utts = self.speech.transcribe(audio[lo:hi], who, lo / SAMPLE_RATE, defer)
        with run.lock:
            run.pieces[who][group[0].a] = utts
            run.speech_done_s += sum(r.b - r.a for r in group) / SAMPLE_RATE
            # Both tracks are about the session's length.
            fraction = run.speech_done_s / (2 * run.duration_s)
        run.progress.stage("speech", min(0.99, fraction))
        # What this decode freed stays in its thread's malloc arena otherwise (inspection.heap).
        heap.trim()

    def join(self, run: RunState, who: Participant, whole: WholeTrack | None) -> None:
        """``who``'s transcript from its pieces; a track decoded whole (``whole``) then has
        the stretches that came back without words decoded again (``recover_lost``)."""
        with run.lock:
            pieces = run.pieces.pop(who, {})
            utts = list(chain.from_iterable(pieces[k] for k in sorted(pieces)))
            audio = run.audio.get(who)
            others = [
                (u.start_s, u.end_s) for p, us in run.utterances.items() if p != who for u in us
            ]
        if whole is not None and audio is not None:
            utts = self.speech.recover_lost(audio, who, utts, whole.spans, others)
        with run.lock:
            run.utterances[who] = utts
            # The customer's is scored in answer windows after the script, the salesperson's
            # on the slots of nodes not found (node_forced); else ~4 MB per minute freed.
            if who != "customer" and not self.thresholds.node_forced:
                run.audio.pop(who, None)
