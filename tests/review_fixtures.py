"""Test data for the review side: real sessions built through the server's own code paths.

A session is created with ``sessions.create_session``, gets small real recordings (VP8 +
Opus in Matroska, made with PyAV: tests/review_media.py) registered through ``SessionDir``
segments and node events, is ended with ``session_end.end_session`` (which anchors the
file hashes in the audit chain), and receives an inspection report through
``JobRunner.store_report`` exactly as a worker would store it. Optional: a side-by-side ``review.mp4`` (H.264 + AAC) and evidence
thumbnails referenced by findings.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from inspection.policy import Policy
from server import session_end, sessions
from server.context import AppContext
from server.session_dir import SessionDir
from server.store.models import FindingRow, RecordingSession, User
from server.worker import JobRunner
from tests.review_media import write_recording, write_review_video, write_thumbnail

ID_NUMBER = "11010519491231002X"
MASKED_ID = "1101**********002X"


def policy(**overrides: Any) -> Policy:
    base: dict[str, Any] = {
        "customer_name": "李明华",
        "customer_id_number": ID_NUMBER,
        "product_name": "安康定期寿险",
        "product_type": "traditional",
        "salesperson_name": "张伟",
        "institution": "安康人寿",
        "premium": 12000.0,
        "payment_method": "年交",
        "payment_years": 10,
        "insurance_years": 20,
        "cooling_off_days": 15,
    }
    base.update(overrides)
    return Policy(**base)


# ---------------------------------------------------------------------------------------------
# Reports

THUMB = "evidence/002-face.absent-customer-3.0s.jpg"

FLAGGED: list[dict[str, Any]] = [
    {
        "code": "speech.forbidden_phrase",
        "severity": "fail",
        "node": "coverage",
        "participant": "salesperson",
        "start_s": 1.2,
        "end_s": 2.0,
        "message": "销售人员使用了禁用语「保本保息」",
        "evidence": {
            "rule": "R15",
            "phrase": "保本保息",
            "transcript": [
                {
                    "participant": "salesperson",
                    "start_s": 1.2,
                    "end_s": 2.0,
                    "text": "这款产品保本保息",
                }
            ],
            "scores": {"similarity": 0.93},
            "threshold": {"forbidden_similarity": 0.85},
        },
    },
    {
        "code": "script.node_missing",
        "severity": "fail",
        "node": "exclusions",
        "participant": "salesperson",
        "start_s": None,
        "end_s": None,
        "message": "销售人员未讲解话术节点「责任免除 (R8)」（相似度 0.31，要求 ≥ 0.60）",
        "evidence": {
            "rule": "R5, R7-R10",
            "expected_text": "请您注意本产品的责任免除条款",
            "scores": {"similarity": 0.31},
            "threshold": {"min_similarity": 0.6},
        },
    },
    {
        "code": "face.absent",
        "severity": "fail",
        "node": None,
        "participant": "customer",
        "start_s": 2.5,
        "end_s": 3.5,
        "message": "客户离开画面 1.0 秒（2.5–3.5 秒），超过允许的 0.5 秒",
        "evidence": {
            "rule": "R12",
            "absent_s": 1.0,
            "frame_t_s": 3.0,
            "frame": THUMB,
            "threshold": {"face_absent_max_s": 0.5},
        },
    },
    {
        "code": "document.id_card_mismatch",
        "severity": "review",
        "node": "id_card",
        "participant": "customer",
        "start_s": 3.0,
        "end_s": 3.4,
        "message": f"证件号码 {ID_NUMBER} 与投保信息不一致",
        "message_en": f"ID number {ID_NUMBER} does not match the policy",
        "evidence": {
            "rule": "R5",
            "ocr_text": f"公民身份号码 {ID_NUMBER}",
            "scores": {"name_similarity": 0.5},
            "threshold": {"name_similarity": 0.8},
        },
    },
]


def make_report(findings: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    """An inspection report in ``Report.to_dict()`` form."""
    return {
        "verdict": "flagged" if findings else "pass",
        "duration_s": duration,
        "findings": copy.deepcopy(findings),
        "nodes": [
            {
                "id": "consent",
                "title": "录音录像同意 (R2)",
                "covered": True,
                "score": 0.9,
                "start_s": 0.2,
                "end_s": 0.9,
                "answer": "affirmative",
            },
            {
                "id": "coverage",
                "title": "保险责任 (R7)",
                "covered": True,
                "score": 0.8,
                "start_s": 1.2,
                "end_s": 2.4,
                "answer": None,
            },
            {
                "id": "exclusions",
                "title": "责任免除 (R8)",
                "covered": False,
                "score": 0.31,
                "start_s": None,
                "end_s": None,
                "answer": None,
            },
        ],
        "transcript": [
            {
                "participant": "salesperson",
                "start_s": 0.2,
                "end_s": 0.8,
                "text": "您是否同意录音录像？",
                "confidence": 0.9,
                "node": "consent",
            },
            {
                "participant": "customer",
                "start_s": 0.9,
                "end_s": 1.1,
                "text": "同意",
                "confidence": 0.95,
                "node": "consent",
            },
            {
                "participant": "salesperson",
                "start_s": 1.2,
                "end_s": 2.0,
                "text": "这款产品保本保息",
                "confidence": 0.8,
                "node": "coverage",
            },
            {
                "participant": "customer",
                "start_s": 2.6,
                "end_s": 3.3,
                "text": f"我的身份证号是{ID_NUMBER}",
                "confidence": 0.7,
                "node": "id_card",
            },
        ],
        "timings": {"total": 1.0},
        "faces": {
            "salesperson": [{"start_s": 0.0, "end_s": duration, "faces": 1}],
            "customer": [
                {"start_s": 0.5, "end_s": 2.5, "faces": 1},
                {"start_s": 2.5, "end_s": 3.5, "faces": 0},
                {"start_s": 3.5, "end_s": duration, "faces": 1},
            ],
        },
        "meta": {},
    }


# ---------------------------------------------------------------------------------------------
# Sessions


@dataclass
class BuiltSession:
    id: str
    dir: Path
    finding_ids: list[int]

    def file(self, name: str) -> Path:
        return self.dir / name


async def user_named(ctx: AppContext, username: str) -> User:
    async with ctx.db.session() as s:
        return (await s.execute(select(User).where(User.username == username))).scalar_one()


async def build_session(
    ctx: AppContext,
    salesperson: str = "sales1",
    findings: list[dict[str, Any]] | None = None,
    seconds: float = 4.0,
    review_video: bool = False,
    age: timedelta = timedelta(0),
    pol: Policy | None = None,
    template_id: str = "traditional_life",
    mode: str = "two_party",
) -> BuiltSession:
    """A finished, inspected session; ``age`` moves its times into the past (queue order)."""
    findings = FLAGGED if findings is None else findings
    user = await user_named(ctx, salesperson)
    row = await sessions.create_session(
        ctx, user, sessions.NewSession(pol or policy(), template_id, mode)
    )
    sdir = SessionDir(ctx.settings.sessions_dir / row.id)
    t0 = datetime.now(UTC) - timedelta(seconds=seconds + 0.5)
    for who, offset in (("salesperson", 0.0), ("customer", 0.5)):
        path = await sdir.open_segment(who)
        write_recording(path, who, seconds - offset)
        await sdir.start_segment(path, t0 + timedelta(seconds=offset))
        await sdir.close_segment(path, t0 + timedelta(seconds=seconds))
    for at, node in ((0.2, "consent"), (1.2, "coverage"), (2.5, "id_card")):
        await sdir.add_event("node", node=node, at=t0 + timedelta(seconds=at))
    await sdir.add_event("consent", participant="customer", at=t0 + timedelta(seconds=1.0))
    if review_video:
        write_review_video(sdir.path / "review.mp4", seconds)
    for f in findings:
        if f["evidence"].get("frame"):
            write_thumbnail(sdir.path / f["evidence"]["frame"], f["code"])
    row = await session_end.end_session(ctx, row, f"user:{salesperson}")
    report = make_report(findings, seconds)
    (sdir.path / "report.json").write_text(json.dumps(report, ensure_ascii=False), "utf-8")
    runner = JobRunner(ctx)
    try:
        await runner.store_report(row.id, report)
    finally:
        await runner.close()
    async with ctx.db.session() as s:
        db_row = await s.get(RecordingSession, row.id)
        assert db_row is not None
        if age:
            db_row.created_at -= age
            db_row.ended_at = (db_row.ended_at or db_row.created_at) - age
        ids = list(
            (
                await s.execute(
                    select(FindingRow.id)
                    .where(FindingRow.session_id == row.id)
                    .order_by(FindingRow.id)
                )
            ).scalars()
        )
    return BuiltSession(row.id, sdir.path, ids)


async def set_review_status(ctx: AppContext, session_id: str, status: str) -> None:
    async with ctx.db.session() as s:
        row = await s.get(RecordingSession, session_id)
        assert row is not None
        row.review_status = status


async def reject_twice(ctx: AppContext, client_factory: Any) -> tuple[str, list[int]]:
    """A session judged (one finding re-judged), rejected by rev1 and rev2 (which makes a
    re-recording request); returns its id and its finding ids. ``client_factory``: the
    fixture of tests/conftest.py."""
    built = await build_session(ctx)
    rev1, rev2 = await client_factory("rev1"), await client_factory("rev2")
    for fid in built.finding_ids:
        status, body = await rev1.post(f"/api/review/findings/{fid}", {"state": "confirmed"})
        assert status == 200, body
    fid = built.finding_ids[0]
    for comment in ("系统误报", "复核后仍为误报，已与录像核对"):
        status, body = await rev1.post(
            f"/api/review/findings/{fid}", {"state": "dismissed", "comment": comment}
        )
        assert status == 200, body
    for rev in (rev1, rev2):
        status, body = await rev.post(
            f"/api/review/sessions/{built.id}/decision", {"decision": "reject", "reason": "误导"}
        )
        assert status == 200, body
    return built.id, built.finding_ids
