"""The script stage of the pipeline: runs ``inspection.script.analyze`` (alignment of rendered
nodes to the transcripts, customer answers, forbidden phrases, spoken numbers) and adapts its
records to the ones ``inspection.rules`` reads; ``check_script`` is the stage of a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from inspection.answer_closed_set import hears_no
from inspection.answer_cohort import needs_cohort, normalise_answers
from inspection.answer_energy import RoomCheck, room_checks, voice_in_windows
from inspection.answer_span import SpanOptions, needs_span, rescored
from inspection.node_forced import apply_forced, forced_scores
from inspection.number_unheard import UnheardNumber
from inspection.playback import script_speech, with_played_nodes
from inspection.rules import NodeCoverage, NumberCheck, PhraseHit, Thresholds
from inspection.script import Answer, NodeAlignment, ScriptSettings, analyze
from inspection.speech import Word
from inspection.templates import RenderedNode, Template
from inspection.textnorm import normalize
from inspection.windows import document_windows

if TYPE_CHECKING:
    from inspection.forbidden import ForbiddenHit
    from inspection.inputs import NodeMarker
    from inspection.policy import Policy
    from inspection.run_state import RunState
    from inspection.speech import SpeechRecognizer, Utterance
    from inspection.speech_types import DecodeOptions
    from inspection.spoken_numbers import NumberCheck as SpokenNumber


@dataclass
class ScriptResult:
    coverage: list[NodeCoverage]
    forbidden: list[PhraseHit]
    numbers: list[NumberCheck]
    node_of_utterance: dict[tuple[str, float], str] = field(default_factory=dict)
    #: Where each answer was looked for (session seconds): the customer regions there are the
    #: only ones whose closed-set scores are read (``AnswerScoring.score_regions``).
    answer_windows: list[tuple[float, float]] = field(default_factory=list)
    #: The same windows by node id.
    answer_window_of: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: Node id -> from the end of a question back the answer rests on, with no word read
    #: after it, (+ ``question_back_gap_s``) to the end of its window: where the customer's
    #: final answer may have gone unread (``answer_energy.voice_in_windows``).
    after_questions: dict[str, tuple[float, float]] = field(default_factory=dict)


def settings_for(th: Thresholds) -> ScriptSettings:
    """The script checks' settings that mirror inspection thresholds."""
    return ScriptSettings(
        min_similarity=th.node_similarity,
        min_key_score=th.node_key_score,
        slot_similarity=th.node_slot_similarity,
        slot_partial_similarity=th.node_slot_partial_similarity,
        answer_wait_s=th.answer_window_s,
        number_sure_confidence=th.number_sure_confidence,
        number_unheard_kinds=("cooling_off_days",) if th.number_unheard_review else (),
    )


def _coverage(node: RenderedNode, a: NodeAlignment, ans: Answer | None) -> NodeCoverage:
    return NodeCoverage(
        node=node,
        score=a.score,
        start_s=a.start_s if a.covered else None,
        end_s=a.end_s if a.covered else None,
        excerpt=a.matched_text,
        key_score=a.key_score,
        support=a.support,
        slot=dict(a.slot) if a.slot is not None else None,
        answer=ans.kind if ans else ("missing" if node.requires_answer else None),
        answer_text=ans.text if ans else "",
        answer_start_s=ans.start_s if ans else None,
        answer_end_s=ans.end_s if ans else None,
        answer_confidence=ans.confidence if ans else None,
        answer_score=ans.score if ans else 1.0,
        answer_uncertain=ans.uncertain if ans else None,
        answer_uncertain_text=ans.uncertain_text if ans else "",
        answer_closed_set=ans.closed_set.as_evidence() if ans and ans.closed_set else None,
        answer_question_back=ans.question_back if ans else "",
    )


def _hit(h: ForbiddenHit) -> PhraseHit:
    return PhraseHit(
        phrase=h.phrase,
        participant=h.participant,  # type: ignore[arg-type]
        start_s=h.start_s,
        end_s=h.end_s,
        excerpt=h.context,
        score=h.score,
        confidence=h.confidence,
        how=h.how,
    )


def _number(n: SpokenNumber) -> NumberCheck:
    return NumberCheck(
        node_id=n.node_id,
        field=n.kind,
        expected=n.expected,
        spoken=n.spoken,
        start_s=n.start_s,
        end_s=n.end_s,
        excerpt=n.context,
        matches=n.matches,
        confidence=n.confidence,
        readings=n.readings,
        reading=n.reading,
        product=n.product,
        doubt=n.doubt,
        garbled=n.garbled,
    )


def _unheard(n: UnheardNumber) -> NumberCheck:
    """A number a covered node states that was not heard: no spoken value, no match."""
    return NumberCheck(
        node_id=n.node_id,
        field=n.kind,
        expected=n.expected,
        spoken=None,
        start_s=n.start_s,
        end_s=n.end_s,
        excerpt=n.heard,
        matches=False,
    )


def _utterance_nodes(
    utterances: dict[str, list[Utterance]], coverage: Sequence[NodeCoverage]
) -> dict[tuple[str, float], str]:
    """(participant, start_s) of each utterance -> the node it overlaps most (its answer for
    the customer), for the report's transcript."""
    out: dict[tuple[str, float], str] = {}
    for who, utts in utterances.items():
        spans = [
            (c.node.id, c.start_s, c.end_s)
            if who == c.node.speaker
            else (c.node.id, c.answer_start_s, c.answer_end_s)
            for c in coverage
        ]
        for u in utts:
            best = max(
                (
                    (min(u.end_s, b) - max(u.start_s, a), nid)
                    for nid, a, b in spans
                    if a is not None and b is not None
                ),
                default=(0.0, ""),
            )
            if best[0] > 0:
                out[(who, u.start_s)] = best[1]
    return out


def _before_repeat(rest: str, following: str, min_chars: int = 3) -> str:
    """``rest`` cut where the start of ``following`` (at least ``min_chars`` long) appears."""
    for k in range(min(len(rest), len(following)), min_chars - 1, -1):
        at = rest.find(following[:k])
        if at >= 0:
            return rest[:at]
    return rest


def repair_words(utterances: Sequence[Utterance]) -> list[Utterance]:
    """Give every utterance words covering its whole text.

    faster-whisper drops the words after a token that splits a character (the text has a
    U+FFFD, the word list stops there while the segment text goes on; the next segment may
    repeat the rest with times). The missing rest, up to where the next utterance's text
    begins, becomes one word from the last word's end towards the next utterance, at ~3.3
    characters per second.
    """
    ordered = sorted(utterances, key=lambda u: u.start_s)
    out = []
    for i, u in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        said = normalize("".join(w.text for w in u.words))
        full = normalize(u.text)
        if (
            not u.words
            or len(full) <= len(said)
            or not full.startswith(said[: max(1, len(said) - 2)])
        ):
            out.append(u)
            continue
        rest = full[len(said) :]
        rest = _before_repeat(rest, normalize(nxt.text) if nxt is not None else "")
        if not rest:
            out.append(u)
            continue
        start = u.words[-1].end_s
        end = start + 0.3 * len(rest)
        if nxt is not None and nxt.start_s > start:
            end = min(end, nxt.start_s)
        # Estimated from the segment's own likelihood, like speech._untimed_tail.
        prob = float(np.exp(u.avg_logprob))
        word = Word(start_s=start, end_s=round(end, 3), text=rest, probability=prob)
        out.append(replace(u, words=[*u.words, word], end_s=max(u.end_s, round(end, 3))))
    return out


def align_script(
    nodes: list[RenderedNode],
    utterances: dict[str, list[Utterance]],
    template: Template,
    policy: Policy,
    markers: Sequence[NodeMarker],
    th: Thresholds,
) -> ScriptResult:
    """Every script check on one session's transcripts, as ``rules`` records."""
    result = analyze(
        nodes,
        repair_words(utterances.get("salesperson", [])),
        repair_words(utterances.get("customer", [])),
        policy=policy,
        markers=[(m.t_s, m.node) for m in markers],
        forbidden_phrases=template.forbidden_phrases,
        settings=settings_for(th),
    )
    by_id = {a.node_id: a for a in result.nodes}
    coverage = [_coverage(n, by_id[n.id], result.answers.get(n.id)) for n in nodes]
    gap = settings_for(th).question_back_gap_s
    return ScriptResult(
        coverage=coverage,
        forbidden=[_hit(h) for h in result.forbidden],
        numbers=[
            *(_number(n) for n in result.numbers),
            *(_unheard(n) for n in result.unheard_numbers),
        ],
        node_of_utterance=_utterance_nodes(utterances, coverage),
        answer_windows=[(a.window_start_s, a.window_end_s) for a in result.answers.values()],
        answer_window_of={k: (a.window_start_s, a.window_end_s) for k, a in result.answers.items()},
        after_questions={
            k: (round(a.question_end_s + gap, 3), a.window_end_s)
            for k, a in result.answers.items()
            if a.question_end_s is not None and a.question_end_s + gap < a.window_end_s
        },
    )


def check_script(run: RunState, speech: SpeechRecognizer, th: Thresholds) -> None:
    """The script stage of a run, once both participants' speech is in: played nodes added,
    the transcripts aligned, the customer's regions in answer windows closed-set scored (and
    the script aligned again with those scores), and the document windows placed."""
    run.progress.finish("speech")
    if run.inp.session_dir is not None:
        # Nodes played from the template's audio (the session's ``system`` track).
        run.utterances = with_played_nodes(run.inp.session_dir, run.nodes, run.utterances)
    run.script = _align_run(run, th)
    audio = run.audio.pop("customer", None)
    if audio is not None and run.script.answer_windows:
        utts = run.utterances.get("customer", [])
        # Answer windows without a customer utterance, and what follows a question back
        # nothing was read after: is the track silent there?
        unread = voice_in_windows(
            audio,
            utts,
            run.script.answer_windows,
            speech.options,
            list(run.script.after_questions.values()),
        )
        heard = sorted(utts + unread, key=lambda u: u.start_s)
        scored = speech.answers.score_regions(audio, heard, run.script.answer_windows)
        if scored != utts:
            # Same windows (they come from the salesperson's nodes), now with the scores.
            run.utterances["customer"] = scored
            run.script = _align_run(run, th)
        st = settings_for(th)
        if needs_span(run.script.coverage, st.closed_set_max_s):
            # A guess on a region with room noise glued to the answer: scored again on the
            # span of its words (inspection.answer_span).
            spanned = rescored(
                audio,
                run.utterances.get("customer", []),
                run.script.answer_windows,
                lambda clip: speech.answers.score_clip(clip, "closed_set_span"),
                lambda s: hears_no(s, st),
                st.closed_set_max_s,
                SpanOptions(
                    max_left_out_db=speech.options.min_peak_db,
                    noise_percentile=speech.options.noise_percentile,
                ),
            )
            if spanned is not None:
                scored = spanned
                run.utterances["customer"] = scored
                run.script = _align_run(run, th)
        if th.answer_cohort and needs_cohort(run.script.coverage):
            # An answer is still a closed-set guess: normalise the scores by the room's
            # own (noise-only regions of the track; None in a quiet room).
            normed = normalise_answers(
                audio, scored, run.script.answer_windows, speech.answers.score_clip, speech.workers
            )
            if normed is not None:
                run.utterances["customer"] = normed
                run.script = _align_run(run, th)
        run.script = missing_in_loud_rooms(
            run.script, audio, run.utterances.get("customer", []), th, speech.options
        )
    if th.node_forced:
        _forced_nodes(run, speech, th)
    run.windows = document_windows(
        run.nodes, run.script.coverage, run.inp.markers, run.duration_s, th
    )
    run.progress.finish("script")


def missing_in_loud_rooms(
    script: ScriptResult,
    audio: np.ndarray,
    customer: Sequence[Utterance],
    th: Thresholds,
    options: DecodeOptions,
) -> ScriptResult:
    """ "No answer" where the room is too loud to prove silence (``answer_energy.room_checks``:
    the customer's own speech stands less than ``answer_room_margin_db`` above the window's
    noise) rests on weak evidence: marked ``room_too_loud`` (review) with the levels; where
    silence is proven the levels go into the evidence too (``room_quiet``). The same for an
    answer that rests on a question back with nothing read after it (``after_questions``,
    checked from the question's end): no final answer after the reply is proven only where
    the room is quiet enough."""
    missing = {
        c.node.id: script.answer_window_of[c.node.id]
        for c in script.coverage
        if c.answer == "missing" and c.node.id in script.answer_window_of
    }
    missing |= {
        c.node.id: script.after_questions[c.node.id]
        for c in script.coverage
        if c.answer in ("missing", "unsure") and c.node.id in script.after_questions
    }
    if not missing:
        return script
    checks = room_checks(audio, customer, missing, th.answer_room_margin_db, options)
    coverage = [_room_checked(c, checks.get(c.node.id)) for c in script.coverage]
    return replace(script, coverage=coverage)


def _room_checked(cov: NodeCoverage, check: RoomCheck | None) -> NodeCoverage:
    """``cov`` with the room's levels in its evidence; uncertain when the room is too loud."""
    if check is None:
        return cov
    if check.too_loud:
        return replace(cov, answer_uncertain="room_too_loud", answer_room=check.as_evidence())
    return replace(cov, answer_room=check.as_evidence())  # silence proven: still a fail


def _forced_nodes(run: RunState, speech: SpeechRecognizer, th: Thresholds) -> None:
    """Salesperson nodes not covered, scored on their slots' audio against the other nodes'
    texts (inspection.node_forced): a clear lead moves the finding one step."""
    audio = run.audio.pop("salesperson", None)
    if audio is None or run.script is None:
        return
    scores = forced_scores(
        speech.node_texts, audio, run.script.coverage, clause_gate=th.node_forced_margin
    )
    if scores:
        run.script.coverage = apply_forced(
            run.script.coverage, scores, th.node_forced_margin, th.node_forced_clause_margin
        )


def _align_run(run: RunState, th: Thresholds) -> ScriptResult:
    return align_script(
        run.nodes,
        script_speech(run.utterances, run.inp.mode),
        run.inp.template,
        run.inp.policy,
        run.inp.markers,
        th,
    )
