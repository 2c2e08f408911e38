"""The last stage of a run: stage outputs -> findings (``inspection.rules``), evidence
thumbnails, and the ``Report``."""

from __future__ import annotations

from inspection import rules, speech_backend
from inspection.inputs import PARTICIPANTS
from inspection.playback import SELF_SERVICE
from inspection.report import Finding, NodeResult, Report, TranscriptLine
from inspection.rules import Thresholds
from inspection.run_state import RunState
from inspection.vision import VideoScan, presence_runs


def findings(run: RunState, th: Thresholds) -> list[Finding]:
    sr = run.script
    assert sr is not None
    out: list[Finding] = []
    markers = rules.marker_spans([(m.node, m.t_s) for m in run.inp.markers], run.duration_s)
    out += rules.script_findings(sr.coverage, th, markers)
    out += rules.forbidden_findings(sr.forbidden, th)
    out += rules.number_findings(sr.numbers, th)
    session = (0.0, run.duration_s)
    doc_spans = list(run.windows.values())
    id_span = [run.windows["id_card"]] if "id_card" in run.windows else []
    unplaced_docs = sorted({n.document for n in run.nodes if n.document} - set(run.windows))
    for who in PARTICIPANTS:
        if who == "salesperson" and run.inp.mode == SELF_SERVICE:
            continue  # the customer records alone: no salesperson is expected in frame
        scan = run.scans.get(who)
        gaps = [(g.start_s, g.end_s) for g in run.gaps if g.participant == who]
        frames = scan.faces if scan else []
        period = scan.period_s if scan else 1.0 / th.face_fps
        excluded = gaps + (doc_spans if who == "customer" else [])
        present = run.presence.get(who)
        unplaced = unplaced_docs if who == "customer" else []
        out += rules.face_absence_findings(
            who, frames, period, session, excluded, th, present, unplaced
        )
        shown = run.card_shown.get(who, [])
        out += rules.extra_person_findings(
            who, frames, period, (id_span if who == "customer" else []) + shown, th
        )
        if scan:
            out += rules.video_findings(who, scan.stats, th)
        if who in run.levels:
            out += rules.audio_findings(run.levels[who], th)
    out += rules.identity_findings(run.matches, th)
    out += rules.id_card_findings(
        run.id_card, run.inp.policy.customer_name, run.inp.policy.customer_id_number, th
    )
    out += rules.signature_findings(
        run.signature, run.inp.policy.customer_name, run.inp.template.risk_sentence, th
    )
    lines = transcript(run)
    for who in PARTICIPANTS:
        snr = run.levels[who].snr_db if who in run.levels else None
        out += rules.asr_findings(who, lines, th, snr)
    out += rules.gap_findings(run.gaps, th)
    for f in out:
        # Faces, documents, media: what was being said around the moment, for context.
        if "transcript" not in f.evidence and f.start_s is not None:
            near = rules.excerpt_around(lines, f.start_s, f.end_s or f.start_s)
            f.evidence["transcript"] = near[:6]
    return rules.sort_findings(out)


def save_thumbnails(run: RunState, found: list[Finding]) -> None:
    """Write a JPEG for every finding that names a frame; reference it as ``frame``."""
    out_dir = run.inp.evidence_dir
    if out_dir is None:
        return
    for i, f in enumerate(found):
        t = f.evidence.get("frame_t_s")
        scan = run.scans.get(f.participant or "customer")
        if t is None or scan is None:
            continue
        data = _document_jpeg(scan, float(t)) if f.code.startswith("document.") else None
        if data is None and scan.thumbs:
            nearest = min(scan.thumbs, key=lambda k: abs(k - float(t)))
            data = scan.thumbs[nearest]
        if not data:
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{i:03d}-{f.code}-{f.participant or 'session'}-{float(t):.1f}s.jpg"
        path.write_bytes(data)
        base = run.inp.session_dir
        f.evidence["frame"] = (
            str(path.relative_to(base)) if base and path.is_relative_to(base) else str(path)
        )


def report(run: RunState, found: list[Finding], th: Thresholds) -> Report:
    sr = run.script
    assert sr is not None
    tpl = run.inp.template
    return Report(
        duration_s=run.duration_s,
        findings=found,
        nodes=[
            NodeResult(
                id=c.node.id,
                title=c.node.title,
                covered=rules.is_covered(c, th),
                score=None if c.score is None else round(c.score, 3),
                start_s=c.start_s,
                end_s=c.end_s,
                answer=c.answer,
                answer_closed_set=c.answer_closed_set,
            )
            for c in sr.coverage
        ],
        transcript=transcript(run),
        timings=run.timings,
        faces={who: presence_runs(scan) for who, scan in run.scans.items()},
        meta={
            "session_id": run.inp.session_id,
            "template": {"id": tpl.id, "version": tpl.version, "source": tpl.source},
            "product_type": run.inp.policy.product_type,
            "thresholds": th.to_dict(),
            "markers_used": bool(run.inp.markers),
            "windows": {k: [round(a, 3), round(b, 3)] for k, (a, b) in run.windows.items()},
            "frames_sampled": {who: len(s.faces) for who, s in run.scans.items()},
            "cpu_s": {k: round(v, 2) for k, v in run.cpu_s.items()},
            "speech_pieces": dict(run.speech_pieces),
            "tasks": list(run.tasks),
            # What the speech model ran on, to reproduce this verdict on a like machine.
            "speech_backend": speech_backend.describe().to_dict(),
        },
    )


def _document_jpeg(scan: VideoScan, t: float) -> bytes | None:
    """The full-size kept frame at ``t`` so a reviewer can read the document."""
    return scan.frames.get(t)


def transcript(run: RunState) -> list[TranscriptLine]:
    node_of = run.script.node_of_utterance if run.script else {}
    lines = [
        TranscriptLine(
            participant=who,
            start_s=u.start_s,
            end_s=u.end_s,
            text=u.text,
            confidence=round(u.confidence, 3),
            node=node_of.get((u.participant, u.start_s)),
            uncertain=u.uncertain,
        )
        for who in PARTICIPANTS
        for u in run.utterances.get(who, [])
    ]
    return sorted(lines, key=lambda t: (t.start_s, t.participant))
