"""Every route of the router that names an object (a session, a finding, a re-recording
request, a media file, a join link), asked by someone who may not see that object: a
reviewer of another institution, another salesperson, a reviewer for a session that is not
under review, no login, a forged link. Each gets the very answer an object that does not
exist gets, status and body alike, so the answer says nothing of the object, not even that
it exists, and the object is unchanged afterwards (docs/security.md, "Institutions").

The routes come from ``ACCESS`` in tests/test_route_access.py, which fails for a route of
the app's router without a line there; here every route whose path has an id is walked,
and one whose id this file cannot fill fails ``test_every_id_route_is_walked``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from yarl import URL

from server.api.pages import WEB_DIR
from server.store.models import (
    FindingRow,
    RecordingSession,
    RerecordRequest,
    ReviewDecision,
)
from tests.conftest import Client, RunningServer, add_users, new_session_body
from tests.review_fixtures import build_session, user_named
from tests.test_route_access import ACCESS, ADMIN, PAGE, PUBLIC, REVIEW, SALES, _body

OTHER = "乙保险"
UNKNOWN_SESSION = "s-00000000000000aa"
#: What this file puts in each kind of id (a route with another id fails the first test).
IDS = ("{session_id}", "{finding_id}", "{request_id}", "{name}", "{token}")


def _id_routes() -> list[tuple[str, str, str]]:
    return sorted((m, t, who) for (m, t), who in ACCESS.items() if "{" in t)


def test_every_id_route_is_walked() -> None:
    for _method, template, who in _id_routes():
        # Each kind is walked below; a new kind of id route must be added to a walk.
        assert who in (SALES, REVIEW, ADMIN, PUBLIC, PAGE), template
        if who == PUBLIC:
            assert "{token}" in template, f"{template}: public, yet not behind a join link"
        rest = template
        for name in IDS:
            rest = rest.replace(name, "")
        assert "{" not in rest, f"{template}: an id this file does not fill"


class Objects:
    """Another institution's reviewed session and what hangs off it, and the same kinds of
    ids for objects that do not exist."""

    def __init__(self, session_id: str, finding: int, request: int, segment: str, thumb: str):
        self.session_id = session_id
        self.finding = finding
        self.request = request
        self.segment = segment
        self.thumb = thumb

    def fill(self, template: str, session_id: str, known: bool) -> str:
        name = self.thumb if "/evidence/" in template else self.segment
        return (
            template.replace("{session_id}", session_id)
            .replace("{finding_id}", str(self.finding if known else self.finding + 100_000))
            .replace("{request_id}", str(self.request if known else self.request + 100_000))
            .replace("{name}", name)
        )


async def _setup(srv: RunningServer) -> Objects:
    await add_users(srv.ctx, [("sales_b", "salesperson", OTHER), ("rev_b", "reviewer", OTHER)])
    theirs = await build_session(srv.ctx, salesperson="sales_b")
    sales_b = await user_named(srv.ctx, "sales_b")
    async with srv.ctx.db.session() as s:
        req = RerecordRequest(
            session_id=theirs.id, salesperson_id=sales_b.id, items=[], reason="重录"
        )
        s.add(req)
        await s.flush()
        request_id = req.id
        frames = list(
            await s.scalars(select(FindingRow.evidence).where(FindingRow.session_id == theirs.id))
        )
    thumb = next(str(f["frame"]).removeprefix("evidence/") for f in frames if f.get("frame"))
    segment = sorted(p.name for p in theirs.dir.glob("*.mkv"))[0]
    return Objects(theirs.id, theirs.finding_ids[0], request_id, segment, thumb)


async def _state(srv: RunningServer, session_id: str) -> tuple[Any, ...]:
    """What a refused request must not change: the session row, its findings, decisions,
    requests, and the audit entries naming it."""
    async with srv.ctx.db.read() as s:
        row = await s.get(RecordingSession, session_id, populate_existing=True)
        assert row is not None
        findings = list(
            await s.execute(
                select(FindingRow.id, FindingRow.review_state).where(
                    FindingRow.session_id == session_id
                )
            )
        )
        decisions = await s.scalar(
            select(func.count())
            .select_from(ReviewDecision)
            .where(ReviewDecision.session_id == session_id)
        )
        requests = list(
            await s.execute(
                select(RerecordRequest.status, RerecordRequest.new_session_id).where(
                    RerecordRequest.session_id == session_id
                )
            )
        )
    files = sorted(p.name for p in (srv.ctx.settings.sessions_dir / session_id).iterdir())
    return (
        row.status,
        row.review_status,
        row.deleted_at,
        row.retain_until,
        row.join_nonce,
        [tuple(f) for f in findings],
        decisions,
        [tuple(r) for r in requests],
        files,
    )


async def _same_as_unknown(
    client: Client, method: str, template: str, known_path: str, unknown_path: str, who: str
) -> int:
    real = await client.request(method, known_path, json=_body(template))
    fake = await client.request(method, unknown_path, json=_body(template))
    assert real[0] in (401, 403, 404, 410), (who, method, known_path, real)
    assert real == fake, (who, method, known_path, real, unknown_path, fake)
    return real[0]


async def test_who_may_not_see_an_object_learns_nothing_of_it(
    server: RunningServer, client_factory: Any
) -> None:
    objs = await _setup(server)
    before = await _state(server, objs.session_id)
    users = {n: await client_factory(n) for n in ("sales1", "rev1")}
    users["anonymous"] = await client_factory()
    # Who may not see sales_b's session of 乙保险, for each kind of route.
    outsiders = {
        SALES: ("sales1", "rev1", "anonymous"),
        REVIEW: ("rev1", "sales1", "anonymous"),
        ADMIN: ("rev1", "sales1", "anonymous"),
    }
    walked = 0
    for method, template, kind in _id_routes():
        if kind == PUBLIC:
            continue  # join links: below
        if kind == PAGE:
            # An HTML shell, the same bytes for any id (its data comes from the API).
            for who in ("sales1", "rev1", "anonymous"):
                known = objs.fill(template, objs.session_id, known=True)
                real = await users[who].request(method, known)
                fake = await users[who].request(method, objs.fill(template, UNKNOWN_SESSION, False))
                assert real == fake and real[0] in (200, 302), (who, known, real[0])
            continue
        for who in outsiders[kind]:
            known = objs.fill(template, objs.session_id, known=True)
            unknown = objs.fill(template, UNKNOWN_SESSION, known=False)
            await _same_as_unknown(users[who], method, template, known, unknown, who)
            walked += 1
    assert walked >= 3 * 21
    assert await _state(server, objs.session_id) == before


async def test_a_reviewer_learns_nothing_of_a_session_not_under_review(
    server: RunningServer, client_factory: Any
) -> None:
    """A session still being recorded (``review_status`` none) is no reviewer's business
    (R18, need to know): every review route answers as for an id that does not exist."""
    sales1 = await client_factory("sales1")
    status, body = await sales1.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    sid = body["session"]["id"]
    objs = await _setup(server)  # for the file names and ids; sid has none of them
    before = await _state(server, sid)
    rev1 = await client_factory("rev1")
    walked = 0
    for method, template, kind in _id_routes():
        if kind != REVIEW or "{session_id}" not in template:
            continue
        known = objs.fill(template, sid, known=True)
        unknown = objs.fill(template, UNKNOWN_SESSION, known=True)
        status = await _same_as_unknown(rev1, method, template, known, unknown, "rev1")
        assert status == 404, (method, known)
        walked += 1
    assert walked >= 4
    assert await _state(server, sid) == before


async def test_a_forged_join_link_learns_nothing_of_its_session(
    server: RunningServer, client_factory: Any
) -> None:
    """A link with a session's real id and nonce but a made-up MAC, or an expired one, gets
    the answer the same link of a session that does not exist gets, on every join route."""
    objs = await _setup(server)
    async with server.ctx.db.read() as s:
        row = await s.get(RecordingSession, objs.session_id)
        assert row is not None
        nonce = row.join_nonce
    signer = server.ctx.signer
    forged = "A" * 43
    pairs = [
        (
            f"{objs.session_id}.{nonce}.9999999999.{forged}",
            f"{UNKNOWN_SESSION}.{nonce}.9999999999.{forged}",
        ),
        (signer.sign(objs.session_id, nonce, -10), signer.sign(UNKNOWN_SESSION, nonce, -10)),
    ]
    before = await _state(server, objs.session_id)
    anon = await client_factory()
    walked = 0
    for method, template, kind in _id_routes():
        if kind != PUBLIC or "{token}" not in template or not template.startswith("/api/"):
            continue
        for real, fake in pairs:
            status = await _same_as_unknown(
                anon,
                method,
                template,
                template.replace("{token}", real),
                template.replace("{token}", fake),
                "anonymous",
            )
            assert status in (404, 410), (method, template)
            walked += 1
    assert walked >= 2 * 13
    assert await _state(server, objs.session_id) == before


#: Ids no route may take for a file name or a database key: traversal (plain and
#: percent-encoded, which aiohttp decodes into the matched value), NUL, absurd lengths,
#: look-alike digits and case, numbers that are no stored id.
HOSTILE = (
    "..",
    "%2e%2e%2f%2e%2e%2fsecret.key",
    "..%2F..%2Fsecret.key",
    "%00",
    "a%00.mkv",
    "s-" + "0" * 4000,
    "S-00000000000000AA",
    "s-%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90aa",
    "-1",
    "1e3",
    "0x10",
    "99999999999999999999999",
    "salesperson-001.mkv%2F..%2F..%2Fmetadata.json",
)


async def _raw(client: Client, method: str, path: str, body: Any) -> tuple[int, Any]:
    """``client.request`` with the path sent as written: yarl would resolve ``..`` and
    re-quote, so the server would never see the hostile value."""
    headers = {"X-CSRF-Token": client.csrf} if client.csrf else {}
    url = URL(f"{client.base}{path}", encoded=True)
    async with client.http.request(
        method, url, json=body, headers=headers, allow_redirects=False
    ) as r:
        if r.content_type == "application/json":
            return r.status, await r.json()
        return r.status, await r.read()


async def test_hostile_ids_are_refused_on_every_id_route(
    server: RunningServer, client_factory: Any
) -> None:
    """Each id of each route replaced by a hostile value, asked by an admin (who passes every
    role check, so the id is what is checked) or, on join routes, with no login: a 4xx in the
    error shape, never a file or a 5xx, and nothing written in the data directory."""
    objs = await _setup(server)
    data = server.ctx.settings.data_dir

    def listing() -> list[str]:
        return sorted(str(p.relative_to(data)) for p in data.rglob("*") if "-wal" not in p.name)

    before = listing()
    admin = await client_factory("admin")
    anon = await client_factory()
    walked = 0
    for method, template, kind in _id_routes():
        if kind == PAGE or not template.startswith("/api/"):
            continue
        client = anon if kind == PUBLIC else admin
        for param in IDS:
            if param not in template:
                continue
            for bad in HOSTILE:
                path = objs.fill(template.replace(param, bad), objs.session_id, known=True)
                status, body = await _raw(client, method, path, _body(template))
                assert 400 <= status < 500, (method, path, status, body)
                if isinstance(body, dict):
                    assert set(body) == {"error"}, (method, path, body)
                else:  # aiohttp's own refusal of a malformed request line
                    assert status in (400, 414), (method, path, status, body[:200])
                assert str(data) not in str(body), (method, path, body)
                walked += 1
    assert walked >= 20 * len(HOSTILE)
    assert listing() == before


async def test_static_names_no_file_can_have_are_404(
    server: RunningServer, client_factory: Any
) -> None:
    """A static path with a name past NAME_MAX, or too long as a whole, is a 404 in the error
    shape; on the old code the first was a 500 (ENAMETOOLONG from aiohttp's is_dir())."""
    anon = await client_factory()
    for path in ("/static/" + "a" * 5000, "/static/" + ("b" * 200 + "/") * 30 + "x.js"):
        status, body = await _raw(anon, "GET", path, None)
        assert status == 404, (path[:40], status, body)
        assert body["error"]["code"] == "not_found"
    asset = sorted(p.name for p in (WEB_DIR / "static" / "js").glob("*.js"))[0]
    status, _ = await _raw(anon, "GET", f"/static/js/{asset}", None)
    assert status == 200


async def test_missing_static_files_and_folders_answer_like_unknown_paths(
    server: RunningServer, client_factory: Any
) -> None:
    """A static path that is no file (missing, or a folder) gets what any unknown path gets,
    status and JSON body; on the old code a missing file was aiohttp's empty 404 and a
    folder its 403."""
    anon = await client_factory()
    unknown = await _raw(anon, "GET", "/no-such-path", None)
    assert unknown[0] == 404 and unknown[1]["error"]["code"] == "not_found", unknown
    for path in (
        "/static/no-such-file.js",
        "/static/js/no-such-file.js",
        "/static/js/api.js/x",
        "/static/js",
        "/static/js/",
        "/static/",
    ):
        for method in ("GET", "HEAD"):
            status, body = await _raw(anon, method, path, None)
            assert status == 404, (method, path, status, body)
            if method == "GET":
                assert body == unknown[1], (path, body)
