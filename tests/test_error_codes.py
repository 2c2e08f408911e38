"""Every error code the server answers with (``{"error": {"code", ...}}``) has its row in
docs/errors.md, with its HTTP status, and every row there is a code the server still has.

The codes are read from the source (server/) in the forms the server writes them:
``status, code = 409, "conflict"`` on an error class, ``code="wrong_role"`` in a call, a
status followed by its code in a call (``SessionError(400, "invalid_fields", ...)``,
``error_response(429, "too_many_attempts", ...)``) or in a returned tuple, a code given to an
``...Error(...)`` (``RtcError("role_taken", ...)``), and the status tables of the API and
media layers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from server.api.errors import _HTTP_CODES
from server.rtc.errors import OwnerLimitError, RtcError

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "errors.md"
_CODE = re.compile(r"^[a-z]+(?:_[a-z]+)*$")
_ROW = re.compile(r"^\| `([a-z_]+)` \| ([0-9, ]+) \|", re.M)


def _is_status(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant) and isinstance(node.value, int) and 400 <= node.value < 600
    )


def _code(node: ast.expr, underscore: bool = False) -> str | None:
    """The code ``node`` writes, if it is a string that reads like one."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return None
    text = node.value
    return text if _CODE.match(text) and (not underscore or "_" in text) else None


def _after_status(items: list[ast.expr]) -> set[tuple[str, int | None]]:
    pairs = zip(items, items[1:], strict=False)
    return {
        (c, a.value)  # type: ignore[attr-defined]
        for a, b in pairs
        if _is_status(a) and (c := _code(b)) is not None
    }


def _codes_in(tree: ast.AST) -> set[tuple[str, int | None]]:
    """(code, HTTP status, or None where the source does not say it beside the code)."""
    out: set[tuple[str, int | None]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
            names = [getattr(t, "id", "") for t in getattr(node.targets[0], "elts", [])]
            if names == ["status", "code"]:
                out |= _after_status(node.value.elts)
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            out |= _after_status(node.value.elts)
        elif isinstance(node, ast.Call):
            out |= _after_status(node.args)
            kw = {k.arg: k.value for k in node.keywords}
            status = kw.get("status")
            given = status.value if status is not None and _is_status(status) else None  # type: ignore[attr-defined]
            if "code" in kw and (c := _code(kw["code"])):
                out.add((c, given))
            if ast.unparse(node.func).endswith("Error"):
                out |= {(c, None) for a in node.args if (c := _code(a, underscore=True))}
    return out


def server_codes() -> set[tuple[str, int | None]]:
    found = {
        pair
        for path in (ROOT / "server").rglob("*.py")
        for pair in _codes_in(ast.parse(path.read_text()))
    }
    tables = {**{c: s for s, c in _HTTP_CODES.items()}, **RtcError.STATUS, **OwnerLimitError.STATUS}
    return found | {(c, s) for c, s in tables.items()}


def test_every_error_code_is_documented() -> None:
    found = server_codes()
    codes = {c for c, _status in found}
    assert {"invalid_fields", "role_taken", "too_many_attempts", "wrong_node"} <= codes
    rows = {
        c: {int(s) for s in statuses.split(",")}
        for c, statuses in _ROW.findall(DOC.read_text(encoding="utf-8"))
    }
    assert sorted(codes - set(rows)) == []
    wrong = sorted((c, s) for c, s in found if s is not None and s not in rows.get(c, {s}))
    assert wrong == []  # the status the source gives beside the code is in its row
    source = "\n".join(p.read_text() for p in (ROOT / "server").rglob("*.py"))
    assert sorted(c for c in rows if f'"{c}"' not in source) == []  # no stale row
