"""Template validation: parsed YAML to a :class:`Template`, every problem collected with its
line (unknown keys, types, placeholders, roles, order constraints, playback)."""

from __future__ import annotations

from typing import Any

from inspection.policy import PRODUCT_TYPES
from inspection.template_compose import PRODUCT_SCOPES
from inspection.template_order import CATEGORIES, order_issues, parse_must_precede
from inspection.templates.format import (
    DOCUMENTS,
    ID_RE,
    PLACEHOLDERS,
    ROLES,
    SCHEMA,
    SPEAKERS,
    Template,
    TemplateError,
    TemplateIssue,
    TemplateNode,
    placeholder_names,
)
from inspection.templates.yaml_lines import LineMap, LineSeq, parse_yaml

_TOP_KEYS = {
    "schema",
    "id",
    "version",
    "title",
    "description",
    "product_types",
    "speaking_rate",
    "answer_pause_s",
    "document_pause_s",
    "risk_sentence",
    "forbidden_phrases",
    "nodes",
}
_NODE_KEYS = {
    "id",
    "title",
    "speaker",
    "text",
    "role",
    "requires_answer",
    "expected_answer",
    "order_critical",
    "category",
    "must_precede",
    "product_types",
    "document",
    "min_similarity",
    "required",
    "product",
    "playback",
}


class _Checker:
    """Collects issues while converting parsed YAML into records."""

    def __init__(self) -> None:
        self.issues: list[TemplateIssue] = []

    def err(self, line: int | None, where: str, message: str) -> None:
        self.issues.append(TemplateIssue(line, where, message))

    def unknown_keys(self, m: LineMap, allowed: set[str], where: str) -> None:
        for key in m:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.err(
                    m.key_lines.get(key), _join(where, str(key)), f"unknown key (known: {known})"
                )

    def text(self, m: LineMap, key: str, where: str, required: bool = True) -> str | None:
        if key not in m or m[key] is None:
            if required:
                self.err(m.line, _join(where, key), "required")
            return None
        value = m[key]
        if not isinstance(value, str) or not value.strip():
            self.err(m.key_lines[key], _join(where, key), "must be a non-empty string")
            return None
        return value.strip()

    def boolean(self, m: LineMap, key: str, where: str) -> bool:
        value = m.get(key, False)
        if not isinstance(value, bool):
            self.err(m.key_lines.get(key), _join(where, key), "must be true or false")
            return False
        return value

    def number(
        self, m: LineMap, key: str, where: str, default: float, lo: float, hi: float
    ) -> float:
        value = m.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            self.err(m.key_lines.get(key), _join(where, key), f"must be a number from {lo} to {hi}")
            return default
        return float(value)

    def choice(self, m: LineMap, key: str, where: str, options: tuple[str, ...]) -> str | None:
        value = m.get(key)
        if value is None:
            return None
        if value not in options:
            self.err(
                m.key_lines.get(key),
                _join(where, key),
                f"must be one of {', '.join(options)}, not {value!r}",
            )
            return None
        return str(value)

    def product_types(self, m: LineMap, key: str, where: str) -> tuple[str, ...] | None:
        if key not in m:
            return None
        value = m[key]
        if not isinstance(value, list) or not value:
            self.err(m.key_lines.get(key), _join(where, key), "must be a non-empty list")
            return None
        bad = [v for v in value if v not in PRODUCT_TYPES]
        if bad:
            self.err(
                m.key_lines.get(key),
                _join(where, key),
                f"unknown product type {bad[0]!r} (known: {', '.join(PRODUCT_TYPES)})",
            )
            return None
        return tuple(str(v) for v in value)

    def placeholders(self, text: str, line: int | None, where: str) -> None:
        try:
            names = list(placeholder_names(text))
        except ValueError as exc:
            self.err(line, where, f"bad placeholder syntax: {exc}")
            return
        for name in names:
            if name not in PLACEHOLDERS:
                self.err(
                    line,
                    where,
                    f"unknown placeholder {{{name}}} (known: {', '.join(sorted(PLACEHOLDERS))})",
                )


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _check_top(c: _Checker, data: LineMap) -> dict[str, Any]:
    c.unknown_keys(data, _TOP_KEYS, "")
    schema = data.get("schema")
    if schema != SCHEMA:
        c.err(
            data.key_lines.get("schema", data.line), "schema", f"must be {SCHEMA!r}, not {schema!r}"
        )
    tid = c.text(data, "id", "")
    if tid is not None and not ID_RE.match(tid):
        c.err(data.key_lines["id"], "id", "must match [a-z][a-z0-9_]*")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        c.err(data.key_lines.get("version", data.line), "version", "must be a positive integer")
        version = 1
    phrases = data.get("forbidden_phrases", [])
    if not isinstance(phrases, list) or not all(isinstance(p, str) and p.strip() for p in phrases):
        c.err(
            data.key_lines.get("forbidden_phrases"),
            "forbidden_phrases",
            "must be a list of non-empty strings",
        )
        phrases = []
    return {
        "id": tid or "",
        "version": version,
        "title": c.text(data, "title", "") or "",
        "description": c.text(data, "description", "", required=False) or "",
        "product_types": c.product_types(data, "product_types", "") or PRODUCT_TYPES,
        "speaking_rate": c.number(data, "speaking_rate", "", 4.2, 1.0, 10.0),
        "answer_pause_s": c.number(data, "answer_pause_s", "", 3.0, 0.0, 60.0),
        "document_pause_s": c.number(data, "document_pause_s", "", 10.0, 0.0, 120.0),
        "risk_sentence": c.text(data, "risk_sentence", "", required=False),
        "forbidden_phrases": tuple(p.strip() for p in phrases),
    }


def _check_node(c: _Checker, m: Any, where: str, line: int) -> TemplateNode | None:
    if not isinstance(m, LineMap):
        c.err(line, where, "must be a mapping with id, title, speaker, text")
        return None
    c.unknown_keys(m, _NODE_KEYS, where)
    nid = c.text(m, "id", where)
    if nid is not None and not ID_RE.match(nid):
        c.err(m.key_lines["id"], _join(where, "id"), "must match [a-z][a-z0-9_]*")
    text = c.text(m, "text", where)
    if text is not None:
        c.placeholders(text, m.key_lines["text"], _join(where, "text"))
    speaker = c.choice(m, "speaker", where, SPEAKERS)
    if "speaker" not in m:
        c.err(m.line, _join(where, "speaker"), f"required ({' or '.join(SPEAKERS)})")
    requires_answer, expected = _answer(c, m, where, speaker)
    sim = _min_similarity(c, m, where)
    required = m.get("required", True)
    if not isinstance(required, bool):
        c.err(m.key_lines["required"], _join(where, "required"), "must be true or false")
        required = True
    precede = _must_precede(c, m, where)
    playback = c.text(m, "playback", where, required=False)
    if playback is not None:
        for issue in playback_issues(text, speaker):
            c.err(m.key_lines["playback"], _join(where, "playback"), issue)
    if nid is None or text is None or speaker is None:
        return None
    return TemplateNode(
        id=nid,
        title=c.text(m, "title", where) or nid,
        speaker=speaker,  # type: ignore[arg-type]
        text=text,
        role=c.choice(m, "role", where, ROLES),  # type: ignore[arg-type]
        requires_answer=requires_answer,
        expected_answer=expected,
        order_critical=c.boolean(m, "order_critical", where),
        product_types=c.product_types(m, "product_types", where) or (),
        document=c.choice(m, "document", where, DOCUMENTS),  # type: ignore[arg-type]
        min_similarity=None if sim is None else float(sim),
        required=required,
        line=m.line,
        category=c.choice(m, "category", where, CATEGORIES),
        precede_category=precede[0],
        precede_nodes=precede[1],
        product=_product_scope(c, m, where),
        playback=playback,
    )


def _answer(c: _Checker, m: LineMap, where: str, speaker: str | None) -> tuple[bool, str | None]:
    """requires_answer and expected_answer: the second only with the first, and a customer
    node cannot require the customer's answer."""
    requires_answer = c.boolean(m, "requires_answer", where)
    expected = c.text(m, "expected_answer", where, required=False)
    if expected and not requires_answer:
        c.err(
            m.key_lines["expected_answer"],
            _join(where, "expected_answer"),
            "only allowed with requires_answer: true",
        )
    if requires_answer and speaker == "customer":
        c.err(
            m.key_lines["requires_answer"],
            _join(where, "requires_answer"),
            "a customer node cannot require a customer answer",
        )
    return requires_answer, expected


def _min_similarity(c: _Checker, m: LineMap, where: str) -> float | int | None:
    sim = m.get("min_similarity")
    if sim is not None and (
        isinstance(sim, bool) or not isinstance(sim, int | float) or not 0 < sim <= 1
    ):
        c.err(
            m.key_lines["min_similarity"],
            _join(where, "min_similarity"),
            "must be a number in (0, 1]",
        )
        return None
    return sim


def _must_precede(
    c: _Checker, m: LineMap, where: str
) -> tuple[str | None, tuple[str, ...], str | None]:
    """must_precede parsed: (category, node ids, problem); the problem is reported."""
    precede: tuple[str | None, tuple[str, ...], str | None] = (None, (), None)
    if "must_precede" in m:
        precede = parse_must_precede(m["must_precede"])
        if precede[2]:
            c.err(m.key_lines["must_precede"], _join(where, "must_precede"), precede[2])
    return precede


def _product_scope(c: _Checker, m: LineMap, where: str) -> str | None:
    scope = c.choice(m, "product", where, PRODUCT_SCOPES)
    if scope is None:
        return None
    line = m.key_lines.get("product")
    if m.get("role") is not None or m.get("order_critical") is True:
        c.err(
            line,
            _join(where, "product"),
            "a consent, reminder or order-critical node is said once, not per product",
        )
    if m.get("document") is not None:
        c.err(line, _join(where, "product"), "a document node is said once, not per product")
    return scope


def playback_issues(text: str | None, speaker: str | None) -> list[str]:
    """Why a node cannot have recorded playback: it is the salesperson's, and a recording
    cannot say this sale's values (no licensed offline voice synthesises them, see
    docs/playback.md), so its text has no placeholders."""
    out = []
    if speaker is not None and speaker != "salesperson":
        out.append("only salesperson nodes can be played")
    if text is not None:
        try:
            names = list(placeholder_names(text))
        except ValueError:
            names = []
        if names:
            out.append(
                f"a played node cannot contain placeholders ({{{names[0]}}}): a recording "
                "cannot say this sale's values; put them in a node the salesperson speaks"
            )
    return out


def _check_nodes(c: _Checker, data: LineMap) -> list[TemplateNode]:
    raw = data.get("nodes")
    if not isinstance(raw, LineSeq) or not raw:
        c.err(data.key_lines.get("nodes", data.line), "nodes", "must be a non-empty list of nodes")
        return []
    nodes: list[TemplateNode] = []
    for i, (item, line) in enumerate(zip(raw, raw.item_lines, strict=True)):
        node = _check_node(c, item, f"nodes[{i}]", line)
        if node is not None:
            nodes.append(node)
    _check_node_set(c, nodes)
    return nodes


def _check_node_set(c: _Checker, nodes: list[TemplateNode]) -> None:
    seen: set[str] = set()
    for n in nodes:
        if n.id in seen:
            c.err(n.line, f"node {n.id}", "duplicate node id")
        seen.add(n.id)
    for role in ROLES:
        with_role = [n for n in nodes if n.role == role]
        for n in with_role[1:]:
            c.err(n.line, f"node {n.id}", f"only one node may have role {role}")
    for line, where, message in order_issues(nodes):
        c.err(line, where, message)
    consent = next((n for n in nodes if n.role == "consent"), None)
    if consent is not None and not consent.requires_answer:
        c.err(
            consent.line, f"node {consent.id}", "the consent node must have requires_answer: true"
        )


def _check_document_scope(c: _Checker, tpl: dict[str, Any], nodes: list[TemplateNode]) -> None:
    for n in nodes:
        extra = set(n.product_types) - set(tpl["product_types"])
        if extra:
            c.err(
                n.line,
                f"node {n.id}",
                f"product_types {sorted(extra)} not in the template's product_types",
            )
    for n in nodes:
        hit = next((p for p in tpl["forbidden_phrases"] if p in n.text), None)
        if hit:
            c.err(n.line, f"node {n.id}", f"text contains the forbidden phrase {hit!r}")
    if tpl["risk_sentence"] and not any(n.document == "signature" for n in nodes):
        c.err(None, "risk_sentence", "set, but no node has document: signature")


def parse_template(text: str, source: str = "<template>") -> Template:
    """Parse and validate template YAML; raise :class:`TemplateError` listing every problem."""
    data = parse_yaml(text, source)
    if not isinstance(data, LineMap):
        raise TemplateError(source, [TemplateIssue(1, "", "the template must be a YAML mapping")])
    c = _Checker()
    top = _check_top(c, data)
    nodes = _check_nodes(c, data)
    _check_document_scope(c, top, nodes)
    if c.issues:
        raise TemplateError(source, sorted(c.issues, key=lambda i: i.line or 0))
    return Template(nodes=tuple(nodes), source=source, **top)
