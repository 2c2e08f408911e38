"""Re-recording requests: what a final rejection asks the salesperson to record again (one
item per confirmed finding code and node), their open requests, and starting the new session."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from inspection.idnumber import mask_id
from inspection.policy import Policy
from server import audit, nodes, sessions
from server.context import AppContext
from server.reviews.access import ReviewError, actor_of, load_session
from server.reviews.records import node_titles, rerecord_json
from server.store.models import FindingRow, RecordingSession, RerecordRequest, User
from server.store.types import iso

#: What the salesperson must do again, per finding code: (Chinese, English).
REDO: dict[str, tuple[str, str]] = {
    "consent.missing": (
        "重新征求客户对录音录像的同意，并得到明确同意",
        "Ask the customer's consent to recording again and get a clear yes",
    ),
    "reminder.missing": ("完整宣读录音录像提示语", "Read the recording reminder in full"),
    "script.node_missing": ("讲解「{node}」", "Explain \u201c{node}\u201d"),
    "script.out_of_order": (
        "按规定顺序进行「{node}」",
        "Do \u201c{node}\u201d in the required order",
    ),
    "answer.not_affirmative": (
        "就「{node}」再次询问，客户须明确回答",
        "Ask \u201c{node}\u201d again; the customer must answer clearly",
    ),
    "speech.forbidden_phrase": (
        "重新讲解「{node}」，不得使用误导或禁用用语",
        "Explain \u201c{node}\u201d again without misleading or forbidden wording",
    ),
    "speech.number_mismatch": (
        "按保单数据准确说明「{node}」中的金额、期限或天数",
        "State the amounts, periods or days of \u201c{node}\u201d exactly as in the policy",
    ),
    "face.absent": (
        "讲解与确认期间双方全程出现在各自画面中",
        "Both parties stay in their own picture while duties are explained and answered",
    ),
    "face.extra_person": ("确保画面中没有无关人员", "Make sure no one else is in the picture"),
    "face.identity_mismatch": (
        "本人出镜并清晰展示与本人一致的身份证件",
        "Appear in person and show an ID that matches you",
    ),
    "document.id_card_missing": (
        "清晰展示身份证件或执业证",
        "Show the ID card or practice certificate clearly",
    ),
    "document.id_card_mismatch": (
        "展示与投保信息一致的有效身份证件",
        "Show a valid ID that matches the policy data",
    ),
    "document.signature_missing": ("清晰展示客户签名", "Show the customer's signature clearly"),
    "document.signature_mismatch": (
        "展示客户本人的签名（与投保人姓名一致）",
        "Show the customer's own signature (matching the applicant's name)",
    ),
    "document.risk_sentence_missing": (
        "清晰展示客户手抄的风险提示语句",
        "Show the customer's hand-copied risk sentence clearly",
    ),
    "document.risk_sentence_mismatch": (
        "客户重新完整、准确抄写风险提示语句并展示",
        "The customer copies the risk sentence again, complete and exact, and shows it",
    ),
    "media.quality": (
        "在光线充足、安静的环境中重新录制相关片段",
        "Record the affected part again in good light and quiet",
    ),
    "media.gap": ("重新录制中断的片段", "Record the interrupted part again"),
}


def rerecord_items(row: RecordingSession, confirmed: list[FindingRow]) -> list[dict[str, Any]]:
    """Only what must be redone: one item per (code, node) of the confirmed findings."""
    titles = node_titles(row)
    items: dict[tuple[str, str | None], dict[str, Any]] = {}
    for f in sorted(confirmed, key=lambda f: (f.start_s if f.start_s is not None else -1.0, f.id)):
        key = (f.code, f.node)
        if key in items:
            items[key]["finding_ids"].append(f.id)
            continue
        title = titles.get(f.node or "", f.node or "")
        zh, en = REDO.get(f.code, ("重新录制相关内容", "Record the affected part again"))
        if "{node}" in zh and not title:
            zh, en = REDO["media.quality"]
        items[key] = {
            "code": f.code,
            "node": f.node,
            "node_title": title or None,
            "participant": f.participant,
            "text_zh": zh.format(node=title),
            "text_en": en.format(node=title),
            "start_s": f.start_s,
            "end_s": f.end_s,
            "finding_ids": [f.id],
        }
    if not items:
        # Rejected for a reason the machine did not flag: the reviewer's reason says what.
        items[("review.other", None)] = {
            "code": "review.other",
            "node": None,
            "node_title": None,
            "participant": None,
            "text_zh": "按审核意见重新录制",
            "text_en": "Record again as the reviewer explains",
            "start_s": None,
            "end_s": None,
            "finding_ids": [],
        }
    return list(items.values())


async def open_requests(ctx: AppContext, user: User) -> list[dict[str, Any]]:
    """The salesperson's open re-recording requests, with the original session's summary."""
    async with ctx.db.read() as s:
        query = select(RerecordRequest, RecordingSession).join(
            RecordingSession, RecordingSession.id == RerecordRequest.session_id
        )
        query = query.where(RerecordRequest.status == "open")
        if user.role != "admin":
            query = query.where(RerecordRequest.salesperson_id == user.id)
        rows = (await s.execute(query.order_by(RerecordRequest.created_at.desc()))).all()
    return [_request_for_salesperson(req, sess) for req, sess in rows]


def _request_for_salesperson(req: RerecordRequest, sess: RecordingSession) -> dict[str, Any]:
    out = rerecord_json(req)
    out["session"] = {
        "id": sess.id,
        "customer_name": sess.customer_name,
        "customer_id_number": mask_id(sess.customer_id_number),
        "product_name": sess.product_name,
        "created_at": iso(sess.created_at),
    }
    return out


async def original_holder(ctx: AppContext, request_id: int) -> tuple[str, str] | None:
    """The other live node holding the request's original session (id, URL), if any: its
    disk has the metadata.json the re-recording's mode is read from, so the start goes
    there, as a creation goes to its home (server.api.forward)."""
    req = await ctx.db.run_read(lambda s: s.get(RerecordRequest, request_id))
    return None if req is None else await nodes.holder(ctx, req.session_id)


async def start_rerecord(
    ctx: AppContext, request_id: int, user: User
) -> tuple[RerecordRequest, RecordingSession]:
    """Create the new session for an open request (same sale, linked by ``rerecord_of``)."""
    async with ctx.db.session() as s:
        # Locked: on PostgreSQL two clicks at once would both see it open (two sessions).
        req = await s.get(RerecordRequest, request_id, with_for_update=True)
        if req is None or (user.role != "admin" and req.salesperson_id != user.id):
            raise ReviewError(404, "not_found", "no such re-recording request")
        if req.status != "open":
            raise ReviewError(409, "request_closed", "this re-recording request is already handled")
        original = await load_session(s, req.session_id)
        owner = await s.get(User, original.salesperson_id) or user
        if owner.disabled:
            # An admin starting it for them: the new session's links would refuse the
            # customer anyway (server/owner_standing.py); nothing is made.
            raise ReviewError(403, "salesperson_disabled", "this salesperson's account is disabled")
        if not owner.qualified_remote:
            # R20, as for a new session (POST /api/sessions): a re-recording is a new
            # remote recording, not a way round a qualification that was withdrawn.
            raise ReviewError(
                403, "not_qualified", "this salesperson is not qualified for remote recording"
            )
        req.status = "done"  # claimed in this transaction: a second click gets 409
    try:
        # The same way of recording as the original (a customer's self-service session is
        # re-recorded as one); the mode is only in its metadata.json (docs/self-service.md).
        mode = await sessions.recorded_mode(ctx, original.id)
        new = sessions.NewSession(Policy.from_dict(original.policy), original.template_id, mode)
        created = await sessions.create_session(ctx, owner, new, rerecord_of=original.id)
    except BaseException:
        async with ctx.db.session() as s:
            back = await s.get(RerecordRequest, request_id)
            if back is not None:
                back.status = "open"
        raise
    async with ctx.db.session() as s:
        done = await s.get(RerecordRequest, request_id)
        assert done is not None
        done.new_session_id = created.id
        await audit.record(
            s,
            actor_of(user),
            "rerecord.start",
            original.id,
            {"request": done.id, "new_session": created.id},
        )
    return done, created
