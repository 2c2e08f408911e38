"""Script templates (话术模板): the versioned YAML format, loading with line-numbered validation,
rendering against policy data, and spoken-duration estimates. The format is in docs/templates.md.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from inspection.policy import PRODUCT_TYPES, Policy
from inspection.template_compose import PRODUCT_SCOPES, PlannedNode, plan
from inspection.template_order import (
    CATEGORIES,
    order_issues,
    parse_must_precede,
    resolve_must_precede,
)

SCHEMA = "kesu.template/1"
BUILTIN_DIR = "templates"  # package data directory inside `inspection`
TEMPLATES_DIR_ENV = "KESU_TEMPLATES_DIR"

Speaker = Literal["salesperson", "customer"]
Document = Literal["id_card", "signature"]
Role = Literal["consent", "reminder"]

SPEAKERS: tuple[str, ...] = ("salesperson", "customer")
DOCUMENTS: tuple[str, ...] = ("id_card", "signature")
ROLES: tuple[str, ...] = ("consent", "reminder")

#: A complete policy used for duration estimates and placeholder validation when none is given.
SAMPLE_POLICY = Policy(
    customer_name="张三",
    customer_id_number="11010519491231002X",
    product_name="安康终身寿险",
    product_type="traditional",
    salesperson_name="李四",
    institution="平安人寿",
    premium=12000,
    payment_method="年交",
    payment_years=10,
    insurance_years=20,
    cooling_off_days=15,
)

#: Every ``{name}`` a template may use (the keys of ``Policy.placeholders()``).
PLACEHOLDERS: frozenset[str] = frozenset(SAMPLE_POLICY.placeholders())

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
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
# Characters that take no speaking time (punctuation, spaces, symbols).
_SILENT_RE = re.compile(r"[\s\W_]+", re.UNICODE)
# Arabic numbers are spoken as Chinese numerals: 12000 -> 一万二千 (4 syllables for 5 digits).
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class TemplateNode:
    """One step of the script, as written in the template (text still has ``{placeholders}``)."""

    id: str
    title: str
    speaker: Speaker
    text: str
    role: Role | None = None  # "consent" -> consent.missing, "reminder" -> reminder.missing
    requires_answer: bool = False  # the customer must answer affirmatively after it
    expected_answer: str | None = None  # hint for the answer check, e.g. "同意", "清楚"
    order_critical: bool = False  # must come before every non-critical node
    product_types: tuple[str, ...] = ()  # empty = applies to every product type
    document: Document | None = None  # document that must be shown during this node
    min_similarity: float | None = None  # overrides the threshold for this node
    required: bool = True  # False: covered if spoken, never reported missing
    line: int | None = None  # line of the node in its YAML file
    category: str | None = None  # what the node is about (template_order.CATEGORIES)
    precede_category: str | None = None  # must_precede: <category>
    precede_nodes: tuple[str, ...] = ()  # must_precede: [node ids]
    # each | main | riders: said once per product it applies to (template_compose); None: shared
    product: str | None = None
    playback: str | None = None  # audio file played for this node (absolute path once loaded)

    def applies_to(self, product_type: str) -> bool:
        return not self.product_types or product_type in self.product_types


@dataclass(frozen=True)
class Template:
    """A parsed, validated script template."""

    id: str
    version: int
    title: str
    nodes: tuple[TemplateNode, ...]
    product_types: tuple[str, ...] = PRODUCT_TYPES
    description: str = ""
    speaking_rate: float = 4.2  # Chinese characters per second
    answer_pause_s: float = 3.0  # time for a customer answer after a question
    document_pause_s: float = 10.0  # time to hold up a document to the camera
    risk_sentence: str | None = None  # expected hand-copied risk sentence (R13)
    forbidden_phrases: tuple[str, ...] = ()
    source: str | None = None  # file path or "builtin:<id>"

    def node(self, node_id: str) -> TemplateNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)


@dataclass(frozen=True)
class RenderedNode:
    """A template node filled with one policy's data, ready for alignment and checks."""

    index: int  # position among the rendered nodes
    id: str
    title: str
    speaker: Speaker
    text: str  # placeholders filled
    role: Role | None
    requires_answer: bool
    expected_answer: str | None
    order_critical: bool
    document: Document | None
    min_similarity: float | None
    required: bool
    values: dict[str, str] = field(default_factory=dict)  # placeholders used -> their values
    category: str | None = None
    # Rendered node ids this node must start before (order_critical, or must_precede).
    must_precede: tuple[str, ...] = ()
    # Key of the product whose values fill this node (Policy.products); None: a shared node.
    product: str | None = None
    playback: str | None = None  # audio file played for this node (inspection/playback.py)


@dataclass(frozen=True)
class NodeDuration:
    id: str
    speech_s: float
    pause_s: float

    @property
    def total_s(self) -> float:
        return self.speech_s + self.pause_s


@dataclass(frozen=True)
class ProductDuration:
    """The part of an estimate spent on one product's own nodes."""

    key: str
    product_name: str
    total_s: float
    nodes: int


@dataclass(frozen=True)
class DurationEstimate:
    """Estimated spoken duration of a rendered template."""

    total_s: float
    nodes: tuple[NodeDuration, ...]
    characters: int
    shared_s: float = 0.0  # nodes said once for the whole sale
    products: tuple[ProductDuration, ...] = ()  # per product, in speaking order


# ---------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class TemplateIssue:
    line: int | None
    where: str  # e.g. "nodes[3].speaker"
    message: str

    def __str__(self) -> str:
        loc = f"line {self.line}: " if self.line else ""
        where = f"{self.where}: " if self.where else ""
        return f"{loc}{where}{self.message}"


class TemplateError(ValueError):
    """A template could not be loaded; ``issues`` lists every problem with its line number."""

    def __init__(self, source: str, issues: list[TemplateIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(self._format())

    def _format(self) -> str:
        if len(self.issues) == 1:
            return f"{self.source}: {self.issues[0]}"
        lines = [f"{self.source}: {len(self.issues)} problems"]
        lines += [f"  {i}" for i in self.issues]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# YAML with line numbers


class _Map(dict[Any, Any]):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class _Seq(list[Any]):
    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):  # type: ignore[misc]  # yaml has no type stubs here
    duplicates: list[TemplateIssue]


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in out:
            loader.duplicates.append(TemplateIssue(line, str(key), "duplicate key"))
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def _parse_yaml(text: str, source: str) -> Any:
    loader = _LineLoader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        ctx = exc.context_mark
        if ctx is not None and mark is not None and ctx.line != mark.line:
            msg += f" (started at line {ctx.line + 1})"
        raise TemplateError(source, [TemplateIssue(line, "", f"invalid YAML: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise TemplateError(source, [TemplateIssue(None, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise TemplateError(source, loader.duplicates)
    return data


# ---------------------------------------------------------------------------------------------
# Validation


class _Checker:
    """Collects issues while converting parsed YAML into records."""

    def __init__(self) -> None:
        self.issues: list[TemplateIssue] = []

    def err(self, line: int | None, where: str, message: str) -> None:
        self.issues.append(TemplateIssue(line, where, message))

    def unknown_keys(self, m: _Map, allowed: set[str], where: str) -> None:
        for key in m:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.err(
                    m.key_lines.get(key), _join(where, str(key)), f"unknown key (known: {known})"
                )

    def text(self, m: _Map, key: str, where: str, required: bool = True) -> str | None:
        if key not in m or m[key] is None:
            if required:
                self.err(m.line, _join(where, key), "required")
            return None
        value = m[key]
        if not isinstance(value, str) or not value.strip():
            self.err(m.key_lines[key], _join(where, key), "must be a non-empty string")
            return None
        return value.strip()

    def boolean(self, m: _Map, key: str, where: str) -> bool:
        value = m.get(key, False)
        if not isinstance(value, bool):
            self.err(m.key_lines.get(key), _join(where, key), "must be true or false")
            return False
        return value

    def number(self, m: _Map, key: str, where: str, default: float, lo: float, hi: float) -> float:
        value = m.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            self.err(m.key_lines.get(key), _join(where, key), f"must be a number from {lo} to {hi}")
            return default
        return float(value)

    def choice(self, m: _Map, key: str, where: str, options: tuple[str, ...]) -> str | None:
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

    def product_types(self, m: _Map, key: str, where: str) -> tuple[str, ...] | None:
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
            names = list(_placeholder_names(text))
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


def _placeholder_names(text: str) -> Iterator[str]:
    for _literal, name, spec, conv in string.Formatter().parse(text):
        if name is None:
            continue
        if spec or conv or not name.isidentifier():
            raise ValueError(
                f"use plain {{name}}, not {{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}"
            )
        yield name


def _check_top(c: _Checker, data: _Map) -> dict[str, Any]:
    c.unknown_keys(data, _TOP_KEYS, "")
    schema = data.get("schema")
    if schema != SCHEMA:
        c.err(
            data.key_lines.get("schema", data.line), "schema", f"must be {SCHEMA!r}, not {schema!r}"
        )
    tid = c.text(data, "id", "")
    if tid is not None and not _ID_RE.match(tid):
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
    if not isinstance(m, _Map):
        c.err(line, where, "must be a mapping with id, title, speaker, text")
        return None
    c.unknown_keys(m, _NODE_KEYS, where)
    nid = c.text(m, "id", where)
    if nid is not None and not _ID_RE.match(nid):
        c.err(m.key_lines["id"], _join(where, "id"), "must match [a-z][a-z0-9_]*")
    text = c.text(m, "text", where)
    if text is not None:
        c.placeholders(text, m.key_lines["text"], _join(where, "text"))
    speaker = c.choice(m, "speaker", where, SPEAKERS)
    if "speaker" not in m:
        c.err(m.line, _join(where, "speaker"), f"required ({' or '.join(SPEAKERS)})")
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
    sim = m.get("min_similarity")
    if sim is not None and (
        isinstance(sim, bool) or not isinstance(sim, int | float) or not 0 < sim <= 1
    ):
        c.err(
            m.key_lines["min_similarity"],
            _join(where, "min_similarity"),
            "must be a number in (0, 1]",
        )
        sim = None
    required = m.get("required", True)
    if not isinstance(required, bool):
        c.err(m.key_lines["required"], _join(where, "required"), "must be true or false")
        required = True
    precede: tuple[str | None, tuple[str, ...], str | None] = (None, (), None)
    if "must_precede" in m:
        precede = parse_must_precede(m["must_precede"])
        if precede[2]:
            c.err(m.key_lines["must_precede"], _join(where, "must_precede"), precede[2])
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


def _product_scope(c: _Checker, m: _Map, where: str) -> str | None:
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
            names = list(_placeholder_names(text))
        except ValueError:
            names = []
        if names:
            out.append(
                f"a played node cannot contain placeholders ({{{names[0]}}}): a recording "
                "cannot say this sale's values; put them in a node the salesperson speaks"
            )
    return out


def _check_nodes(c: _Checker, data: _Map) -> list[TemplateNode]:
    raw = data.get("nodes")
    if not isinstance(raw, _Seq) or not raw:
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
    data = _parse_yaml(text, source)
    if not isinstance(data, _Map):
        raise TemplateError(source, [TemplateIssue(1, "", "the template must be a YAML mapping")])
    c = _Checker()
    top = _check_top(c, data)
    nodes = _check_nodes(c, data)
    _check_document_scope(c, top, nodes)
    if c.issues:
        raise TemplateError(source, sorted(c.issues, key=lambda i: i.line or 0))
    return Template(nodes=tuple(nodes), source=source, **top)


# ---------------------------------------------------------------------------------------------
# Loading


def _builtin_files() -> dict[str, Any]:
    root = resources.files("inspection") / BUILTIN_DIR
    return {p.name[: -len(".yaml")]: p for p in root.iterdir() if p.name.endswith(".yaml")}


def template_dirs() -> list[Path]:
    """Directories of an installation's own templates (``KESU_TEMPLATES_DIR``, several
    separated by ``os.pathsep``): ``<dir>/<id>.yaml`` is the template ``id``, next to the
    audio files its nodes play. Read from the environment so worker processes see it too."""
    raw = os.environ.get(TEMPLATES_DIR_ENV, "")
    return [Path(p) for p in raw.split(os.pathsep) if p.strip()]


def _installed_files() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for d in reversed(template_dirs()):  # the first directory wins
        if d.is_dir():
            out.update({p.stem: p for p in d.glob("*.yaml") if _ID_RE.match(p.stem)})
    return out


def builtin_template_ids() -> list[str]:
    """Ids of the templates shipped with Kesu, sorted."""
    return sorted(_builtin_files())


def template_ids() -> list[str]:
    """Ids usable by name: the built-ins and those in ``KESU_TEMPLATES_DIR``, sorted."""
    return sorted(set(_builtin_files()) | set(_installed_files()))


def builtin_templates() -> dict[str, Template]:
    """Every built-in template by id."""
    return {tid: load_template(tid) for tid in builtin_template_ids()}


def named_templates() -> dict[str, Template]:
    """Every template usable by name (built-ins and installed) by id; broken files skipped."""
    out = {}
    for tid in template_ids():
        try:
            out[tid] = load_template(tid)
        except TemplateError:
            continue
    return out


def load_template(path_or_id: str | Path) -> Template:
    """Load a template from a YAML file, or one by id: built-in (e.g. ``traditional_life``)
    or in ``KESU_TEMPLATES_DIR``."""
    files = _builtin_files()
    key = str(path_or_id)
    installed = _installed_files() if isinstance(path_or_id, str) else {}
    if isinstance(path_or_id, str) and key in installed and not Path(key).exists():
        tpl = load_template(installed[key])
        if tpl.id != key:
            raise TemplateError(
                tpl.source or key, [TemplateIssue(None, "id", f"must equal the file name {key!r}")]
            )
        return tpl
    if isinstance(path_or_id, str) and key in files and not Path(key).exists():
        tpl = parse_template(files[key].read_text(encoding="utf-8"), f"builtin:{key}")
        if tpl.id != key:
            raise TemplateError(
                tpl.source or key, [TemplateIssue(None, "id", f"must equal the file name {key!r}")]
            )
        return tpl
    path = Path(path_or_id)
    if not path.is_file():
        known = ", ".join(template_ids())
        raise TemplateError(
            key,
            [TemplateIssue(None, "", f"no such file or built-in template (built-ins: {known})")],
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(key, [TemplateIssue(None, "", f"cannot read: {exc}")]) from None
    return _resolve_playback(parse_template(text, str(path)), path.parent)


def _resolve_playback(tpl: Template, base: Path) -> Template:
    """Playback files are relative to the template's directory; each must exist."""
    issues = []
    nodes = []
    for n in tpl.nodes:
        if n.playback is not None:
            audio = (base / n.playback).resolve()
            if not audio.is_file():
                issues.append(TemplateIssue(n.line, f"node {n.id}.playback", f"no file {audio}"))
            n = replace(n, playback=str(audio))
        nodes.append(n)
    if issues:
        raise TemplateError(tpl.source or tpl.id, issues)
    return replace(tpl, nodes=tuple(nodes))


# ---------------------------------------------------------------------------------------------
# Rendering and duration


def render(
    template: Template,
    policy: Policy,
    product_templates: dict[str, Template] | None = None,
) -> list[RenderedNode]:
    """Fill placeholders from ``policy`` and drop nodes that do not apply to its products.

    A combined sale's script is composed (``inspection.template_compose``): product nodes are
    said once per product with that product's values; a product with its own ``template_id``
    takes its product nodes from that template (``product_templates`` by product key, else
    loaded with :func:`load_template`).
    """
    own = _own_templates(template, policy, product_templates)
    for p in policy.products:
        source = own.get(p.key, template)
        if p.product_type not in source.product_types:
            raise TemplateError(
                source.source or source.id,
                [
                    TemplateIssue(
                        None,
                        "product_types",
                        f"template {source.id} is for {', '.join(source.product_types)}, "
                        f"not {p.product_type}"
                        + ("" if p.role == "main" else f" (product {p.key}: {p.product_name})"),
                    )
                ],
            )
    planned = plan(template, policy, own)
    precede = resolve_must_precede([pn.node for pn in planned])
    several = len(policy.products) > 1
    out: list[RenderedNode] = []
    for pn in planned:
        out.append(_render_node(pn, policy, precede[pn.node.id], len(out), several))
    return out


def _own_templates(
    template: Template, policy: Policy, given: dict[str, Template] | None
) -> dict[str, Template]:
    """Product key -> the product's own template, for products that name one other than
    ``template``."""
    out: dict[str, Template] = {}
    for p in policy.products:
        if given and p.key in given:
            out[p.key] = given[p.key]
        elif p.template_id and p.template_id != template.id:
            out[p.key] = load_template(p.template_id)
    return {k: t for k, t in out.items() if t is not template}


def _render_node(
    pn: PlannedNode, policy: Policy, must_precede: tuple[str, ...], index: int, several: bool
) -> RenderedNode:
    node, product = pn.node, pn.product
    values = policy.placeholders(product.key if product else None)
    names = list(_placeholder_names(node.text))
    unknown = [n for n in names if n not in values]
    if unknown:
        raise TemplateError(
            pn.source.source or pn.source.id,
            [TemplateIssue(node.line, f"node {node.id}", f"unknown placeholder {{{unknown[0]}}}")],
        )
    used = {n: values[n] for n in names}
    title = node.title
    if product is not None and several:
        title = f"{title}（{product.product_name}）"
    return RenderedNode(
        index=index,
        id=node.id,
        title=title,
        speaker=node.speaker,
        text=node.text.format_map(used),
        role=node.role,
        requires_answer=node.requires_answer,
        expected_answer=node.expected_answer,
        order_critical=node.order_critical,
        document=node.document,
        min_similarity=node.min_similarity,
        required=node.required,
        values=used,
        category=node.category,
        must_precede=must_precede,
        product=product.key if product else None,
        playback=node.playback,
    )


def spoken_chars(text: str) -> int:
    """Approximate syllables in ``text``: CJK/letters count one each, numbers as spoken numerals."""
    count = 0
    for part in _NUMBER_RE.split(text):
        count += len(_SILENT_RE.sub("", part))
    for num in _NUMBER_RE.findall(text):
        count += _numeral_syllables(num)
    return count


def _numeral_syllables(num: str) -> int:
    """Syllables of a number read as Chinese: 12000 -> 一万二千 (4), 15 -> 十五, 1.5 -> 一点五."""
    whole, _, frac = num.partition(".")
    whole = whole.lstrip("0") or "0"
    nonzero = sum(1 for d in whole if d != "0")
    n = max(1, 2 * nonzero - (1 if whole[-1] != "0" else 0))
    return n + (1 + len(frac) if frac else 0)


def estimate_duration(
    template: Template,
    policy: Policy | None = None,
    *,
    product_templates: dict[str, Template] | None = None,
    played_s: dict[str, float] | None = None,
) -> DurationEstimate:
    """Estimate how long the script takes to speak, with answer and document pauses; in
    total, for the shared nodes, and per product (its own nodes). ``played_s`` gives the
    real duration of nodes that are played from audio files."""
    if policy is None:
        product = template.product_types[0]
        policy = Policy.from_dict({**SAMPLE_POLICY.to_dict(), "product_type": product})
    nodes = []
    chars = 0
    per_product: dict[str, list[float]] = {p.key: [] for p in policy.products}
    shared = 0.0
    for r in render(template, policy, product_templates):
        n = spoken_chars(r.text)
        chars += n
        pause = (template.answer_pause_s if r.requires_answer else 0.0) + (
            template.document_pause_s if r.document else 0.0
        )
        speech = (played_s or {}).get(r.id, n / template.speaking_rate)
        d = NodeDuration(r.id, speech, pause)
        nodes.append(d)
        if r.product is None:
            shared += d.total_s
        else:
            per_product[r.product].append(d.total_s)
    products = tuple(
        ProductDuration(p.key, p.product_name, sum(per_product[p.key]), len(per_product[p.key]))
        for p in policy.products
    )
    total = sum(n.total_s for n in nodes)
    return DurationEstimate(
        total_s=total, nodes=tuple(nodes), characters=chars, shared_s=shared, products=products
    )
