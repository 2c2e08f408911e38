"""The HTTP API as an OpenAPI 3.1 document, built from one table of operations and the
pydantic models the handlers validate with. Served at ``GET /api/openapi.json``; rendered
to ``docs/api.md`` by ``scripts/api_docs.py``. A test keeps the table and the router equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.api.ice import IceServersOut
from server.api.schemas import auth as a
from server.api.schemas import findings as f
from server.api.schemas import reviews as r
from server.api.schemas import sessions as s
from server.api.schemas.common import MAX_ID, ErrorBody, Ok, WrongNodeBody
from server.sessions import SESSION_ID_RE

Auth = Literal["none", "login", "token"]


@dataclass(frozen=True)
class Op:
    """One operation: what it takes, who may call it, what it answers."""

    method: str
    path: str
    summary: str
    tag: str
    auth: Auth = "login"
    roles: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    media: str = "application/json"  # of the success response
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404))
    body_required: bool = True
    # May answer 409 wrong_node: the session's call is held by another media node.
    node_bound: bool = False


SALES = ("salesperson",)
REVIEW = ("reviewer",)
ADMIN = ("admin",)
SID = "/api/sessions/{session_id}"
JOIN = "/api/join/{token}"

OPERATIONS: tuple[Op, ...] = (
    Op("GET", "/api/openapi.json", "This document", "meta", "none", errors=()),
    # Authentication
    Op("POST", "/api/login", "Log in; sets the session cookie", "auth", "none",
       body=a.LoginBody, response=a.SessionUserOut, errors=(400, 401, 403, 413, 415, 429)),
    Op("POST", "/api/logout", "Log out", "auth", response=Ok, errors=(401, 403)),
    Op("GET", "/api/me", "The logged-in user and CSRF token", "auth",
       response=a.SessionUserOut, errors=(401,)),
    # Salesperson
    Op("GET", "/api/templates", "Built-in script templates", "sessions",
       response=s.TemplatesOut, errors=(401,)),
    Op("POST", "/api/sessions", "Create a recording session", "sessions", roles=SALES,
       body=s.NewSessionBody, response=s.SessionEnvelope, status=201,
       errors=(400, 401, 403, 413, 429)),
    Op("GET", "/api/sessions", "The salesperson's sessions (admin: all)", "sessions",
       roles=SALES, response=s.SessionListOut, errors=(401, 403)),
    Op("GET", SID, "One session with its script", "sessions", roles=SALES,
       response=s.SessionDetailOut),
    Op("POST", SID + "/link", "The customer's join link and QR code", "sessions", roles=SALES,
       response=s.JoinLinkOut, errors=(400, 401, 403, 404, 409)),
    Op("POST", SID + "/link/revoke", "Revoke every join link of the session before it "
       "expires (audited as join_link.revoke): the customer is taken out of the call, their "
       "live-check streams end, and every request with an old link is 410 token_revoked. "
       "POST .../link then makes a new link that works", "sessions", roles=SALES,
       response=s.JoinLinkRevokedOut, body_required=False, errors=(400, 401, 403, 404, 429)),
    Op("POST", SID + "/offer", "Join the call: SDP offer in, answer out", "sessions",
       roles=SALES, body=s.OfferBody, response=s.AnswerOut,
       errors=(400, 401, 403, 404, 409, 410, 413, 429, 503), node_bound=True),
    Op("POST", SID + "/leave", "Leave the call", "sessions", roles=SALES, response=Ok),
    Op("POST", SID + "/node", "Move the teleprompter to a script node. A move to the node "
       "already current is a no-op (the same answer, no second node event in metadata.json), "
       "so a retry after a lost answer stores the move once; moving away and back is two "
       "moves", "sessions",
       roles=SALES, body=s.NodeBody, response=s.SessionEnvelope,
       errors=(400, 401, 403, 404, 409)),
    Op("POST", SID + "/end", "End the session; queues the inspection (409 missing_items "
       "unless confirm_missing while live checks list required items not done)", "sessions",
       roles=SALES, body=s.EndBody, body_required=False, response=s.SessionEnvelope,
       errors=(400, 401, 403, 404, 409), node_bound=True),
    Op("GET", SID + "/live", "Live checks, pushed as Server-Sent Events (event: live)",
       "sessions", roles=SALES, response=s.LiveStateOut, media="text/event-stream",
       errors=(400, 401, 403, 404, 409, 429)),
    Op("POST", SID + "/playback", "Play a node's recorded audio to both parties", "sessions",
       roles=SALES, body=s.NodeBody, response=s.PlaybackOut,
       errors=(400, 401, 403, 404, 409)),
    Op("GET", SID + "/state", "Live state (polled)", "sessions", roles=SALES,
       response=s.StateOut),
    Op("GET", SID + "/ice", "STUN/TURN servers with fresh TURN credentials", "sessions",
       roles=SALES, response=IceServersOut, errors=(400, 401, 403, 404, 409)),
    Op("GET", SID + "/findings", "The session's findings and review, read-only (owner)",
       "sessions", roles=SALES, response=f.SalesFindingsOut),
    Op("DELETE", SID, "Delete a session's files after retention, or finish a deletion cut short (admin)", "retention",
       roles=ADMIN, response=r.DeletedOut, errors=(400, 401, 403, 404, 409)),
    Op("POST", SID + "/hold", "Place or lift a legal hold (admin)", "retention",
       roles=ADMIN, body=r.HoldBody, response=r.HoldOut, errors=(400, 401, 403, 404, 429)),
    # Customer (join link)
    Op("GET", JOIN, "Who is calling and why (before consent)", "join", "token",
       response=s.JoinInfoOut, errors=(400, 403, 404, 410)),
    Op("POST", JOIN + "/consent", "The customer consents to recording", "join", "token",
       body=s.ConsentBody, response=s.ConsentOut, errors=(400, 403, 404, 409, 410, 413)),
    Op("POST", JOIN + "/offer", "The customer joins the call", "join", "token",
       body=s.OfferBody, response=s.AnswerOut,
       errors=(400, 403, 404, 409, 410, 413, 429, 503),
       node_bound=True),
    Op("POST", JOIN + "/leave", "The customer leaves the call", "join", "token",
       response=Ok, errors=(400, 404, 410)),
    Op("GET", JOIN + "/state", "Live state for the customer (polled)", "join", "token",
       response=s.StateOut, errors=(400, 403, 404, 410)),
    Op("GET", JOIN + "/live", "The customer's live prompts as Server-Sent Events", "join",
       "token", response=s.CustomerLiveOut, media="text/event-stream",
       errors=(400, 403, 404, 409, 410, 429)),
    Op("GET", JOIN + "/ice", "STUN/TURN servers for the customer's connection", "join",
       "token", response=IceServersOut, errors=(400, 403, 404, 410)),
    # Customer, self-service sessions (mode: self_service)
    Op("POST", JOIN + "/playback", "Self-service: play a node's recorded audio", "join",
       "token", body=s.NodeBody, response=s.PlaybackOut, errors=(400, 403, 404, 409, 410, 413)),
    Op("POST", JOIN + "/node", "Self-service: a node shown on screen (stored like the "
       "teleprompter's move: a move to the node already current is a no-op)", "join", "token",
       body=s.NodeBody, response=s.StateOut, errors=(400, 403, 404, 409, 410, 413)),
    Op("POST", JOIN + "/answer", "Self-service: hear and classify the answer to a node",
       "join", "token", body=s.AnswerBody, response=s.HeardAnswerOut,
       errors=(400, 403, 404, 409, 410, 413, 429)),
    Op("POST", JOIN + "/document", "Self-service: read an ID card or signed page from a still",
       "join", "token", body=s.DocumentBody, response=s.DocumentOut,
       errors=(400, 403, 404, 409, 410, 413, 429)),
    Op("GET", JOIN + "/summary",
       "Self-service: what was recorded per node (410 once the session has ended)", "join",
       "token", response=s.SummaryOut, errors=(400, 403, 404, 409, 410)),
    Op("POST", JOIN + "/finish",
       "Self-service: the customer ends the recording (409 nothing_recorded until their "
       "media has been recorded)", "join",
       "token", response=s.SummaryOut, errors=(400, 403, 404, 409, 410)),
    # Review
    Op("GET", "/api/review/queue", "Sessions awaiting review, most severe first", "review",
       roles=REVIEW, query=r.QueueQuery, response=r.QueueOut, errors=(400, 401, 403)),
    Op("GET", "/api/review/stats", "Review statistics for a period", "review", roles=REVIEW,
       query=r.StatsQuery, response=r.StatsOut, errors=(400, 401, 403)),
    Op("GET", "/api/review/sessions/{session_id}", "Everything the review page shows",
       "review", roles=REVIEW, response=r.ReviewDetailOut),
    Op("POST", "/api/review/sessions/{session_id}/decision", "Approve or reject", "review",
       roles=REVIEW, body=r.DecisionBody, response=r.DecisionOut,
       errors=(400, 401, 403, 404, 409)),
    Op("GET", "/api/review/sessions/{session_id}/export", "Evidence zip (admin)", "review",
       roles=ADMIN, media="application/zip", errors=(400, 401, 403, 404, 429)),
    Op("POST", "/api/review/findings/{finding_id}", "Confirm or dismiss a finding",
       "review", roles=REVIEW, body=r.JudgeBody, response=r.FindingOut,
       errors=(400, 401, 403, 404, 409, 429)),
    Op("GET", "/api/media/{session_id}/{name}", "A recording segment or the review video",
       "media", roles=REVIEW, media="video/*", errors=(401, 403, 404, 412, 416)),
    Op("GET", "/api/media/{session_id}/evidence/{name}", "An evidence thumbnail", "media",
       roles=REVIEW, media="image/*", errors=(401, 403, 404, 412, 416)),
    Op("GET", "/api/audit/verify", "Verify the audit chain and anchored files (admin)",
       "audit", roles=ADMIN, response=r.VerifyOut, errors=(401, 403, 429)),
    Op("GET", "/api/rerecord-requests", "Open re-recording requests", "rerecord",
       roles=SALES, response=r.RerecordListOut, errors=(401, 403)),
    Op("POST", "/api/rerecord-requests/{request_id}/start",
       "Start the re-recording session (in the original's mode: docs/self-service.md)",
       "rerecord", roles=SALES,
       response=r.RerecordStartOut, status=201, errors=(400, 401, 403, 404, 409, 429, 503),
       node_bound=True),
)  # fmt: skip

_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "session_id": {"type": "string", "pattern": SESSION_ID_RE.pattern},
    "token": {"type": "string", "maxLength": 256, "description": "the signed join token"},
    "finding_id": _ID,
    "request_id": _ID,
    "name": {"type": "string", "maxLength": 160, "description": "a file the session lists"},
}
_STATUS_TEXT = {
    400: "Bad input (invalid_body: a body whose encoding or chunking does not decode)",
    401: "Login required",
    403: (
        "Wrong role, CSRF token, or a cross-site Origin/Referer (origin_mismatch); on a join "
        "link: its salesperson is disabled or not qualified (salesperson_disabled, "
        "salesperson_not_qualified)"
    ),
    404: "Not found (or not yours)",
    409: "Conflicts with the session's state",
    410: "Gone (link revoked or expired, rejoin window passed)",
    413: "Body too large",
    415: "Not a JSON body (login)",
    412: "Precondition failed (If-Match names another version of the file than its ETag)",
    416: "Range not satisfiable",
    429: (
        "Too many: wait Retry-After seconds (too_many_attempts: failed logins; "
        "too_many_sessions: sessions created this hour; too_many_joins: joins of one "
        "participant to one call; too_many_live_sessions: calls one salesperson's "
        "sessions hold at once (until one ends); too_many_streams: live streams of one "
        "session; too_many_checks: one self-service node's answer or document checks; "
        "too_many_revocations: one session's join links revoked 20 times (for good); "
        "too_many_judgements: one reviewer's judgements on one session; "
        "too_many_hold_changes: one admin's legal hold changes on one session; "
        "busy: a self-service check, an audit verification or two exports run)"
    ),
    503: "At capacity",
}
REF = "#/components/schemas/{model}"
WRONG_NODE = (
    "the session's call is on another media node (several media nodes); details.node_url "
    "is that node's base URL: open the same page there and send the request again"
)


def _models() -> list[tuple[type[BaseModel], Literal["validation", "serialization"]]]:
    seen: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (ErrorBody, "serialization"),
        (WrongNodeBody, "serialization"),
    ]
    for op in OPERATIONS:
        if op.body is not None:
            seen.append((op.body, "validation"))
        if op.response is not None:
            seen.append((op.response, "serialization"))
    return list(dict.fromkeys(seen))


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, ref_template=REF)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        # A query parameter is absent or a string, never JSON null.
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if options:
            prop.update(options[0])
        if prop.get("default") is None:
            prop.pop("default", None)
        desc = prop.pop("description", None)
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if desc:
            param["description"] = desc
        out.append(param)
    return out


def _operation(op: Op, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": re.sub(r"[^a-zA-Z0-9]+", "_", f"{op.method} {op.path}").strip("_"),
        "summary": op.summary,
        "tags": [op.tag],
    }
    if op.auth == "login":
        out["security"] = [{"cookie": [], "csrf": []}] if op.method != "GET" else [{"cookie": []}]
        if op.roles:
            out["description"] = f"Role: {' or '.join(op.roles)} (admin may do everything)."
    elif op.auth == "token":
        out["security"] = []
        out["description"] = "Authenticated by the join token in the path; no cookie."
    else:
        out["security"] = []
    params = [
        {"name": p, "in": "path", "required": True, "schema": PATH_PARAMS[p]}
        for p in re.findall(r"{(\w+)}", op.path)
    ]
    if op.query is not None:
        params += _query_params(op.query)
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    ok: dict[str, Any] = {"description": "OK" if op.status == 200 else "Created"}
    if op.response is not None and op.media == "text/event-stream":
        # Each event's data line is one JSON document of the response model.
        ok["content"] = {
            op.media: {
                "schema": {"type": "string", "description": "event: live, data: JSON"},
                "x-event-data": refs[(op.response, "serialization")],
            }
        }
    elif op.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(op.response, "serialization")]}}
    elif op.media != "application/json":
        ok["content"] = {op.media: {"schema": {"type": "string", "format": "binary"}}}
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    responses: dict[str, Any] = {str(op.status): ok}
    error = {"application/json": {"schema": refs[(ErrorBody, "serialization")]}}
    for status in op.errors:
        responses[str(status)] = {"description": _STATUS_TEXT[status], "content": error}
    if op.node_bound:
        either = {
            "anyOf": [refs[(ErrorBody, "serialization")], refs[(WrongNodeBody, "serialization")]]
        }
        responses["409"] = {
            "description": _STATUS_TEXT[409] + "; or wrong_node: " + WRONG_NODE,
            "content": {"application/json": {"schema": either}},
        }
    responses["default"] = {"description": "Any other error, same shape", "content": error}
    out["responses"] = responses
    return out


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once per process)."""
    refs, defs = models_json_schema(_models(), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kesu (可溯) HTTP API",
            "version": "1",
            "description": (
                'Every error answer is {"error": {"code", "message", "details"}}; '
                "validation errors list each bad field in details.errors. A boolean field "
                'of a request body takes JSON true or false only ("no", 0, 1, "1" or "true" '
                "is 400 invalid_fields). Unsafe requests "
                "authenticated by the cookie must send the X-CSRF-Token header from /api/me. "
                "Any request that writes may answer 503 database_busy (the database's write "
                "lock stayed taken past the busy timeout) with a Retry-After header: retry then. "
                "With several media nodes on separate disks, a request about a session held by "
                "another node is forwarded to it: a request that writes may answer 503 "
                "node_unreachable (that node did not answer in time; a read is then answered "
                "from the shared database instead), and a forwarded request that reaches a node "
                "not holding the session either (a misconfigured node_url) 503 node_misrouted: "
                "retry later (docs/deploy.md)."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "cookie": {"type": "apiKey", "in": "cookie", "name": "kesu_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
    }


async def serve(_request: web.Request) -> web.Response:
    return web.json_response(document())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", serve)
