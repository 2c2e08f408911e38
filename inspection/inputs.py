"""Inspection inputs: the records an inspection runs on, read from a server session directory
(docs/session-format.md) or assembled from a pair of recordings with a template and policy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_core import from_json

from inspection.media import MediaError, Track, probe
from inspection.policy import Policy
from inspection.report import Participant
from inspection.rules import Gap
from inspection.templates import Template, TemplateError, load_template, template_ref

log = logging.getLogger(__name__)

PARTICIPANTS: tuple[Participant, Participant] = ("salesperson", "customer")


class InputError(ValueError):
    """The input cannot be inspected (missing file, unreadable media, invalid template)."""


@dataclass(frozen=True)
class NodeMarker:
    """The salesperson advanced the teleprompter to ``node`` at ``t_s``."""

    node: str
    t_s: float


@dataclass(frozen=True)
class AttendanceEvent:
    """A participant joined or left the session at ``t_s`` (``metadata.json`` events)."""

    participant: str
    kind: str  # "join" | "leave"
    t_s: float


def presence_spans(
    events: list[AttendanceEvent], participant: str, media: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """When ``participant`` was in the session: from each join to the next leave, within
    the span of their recordings (``media``: segment start/end times).

    Without events for the participant, the recordings' span. Absence from the picture
    only counts while the participant is present; recorded gaps are excluded separately.
    """
    if not media:
        return []
    lo, hi = min(s for s, _ in media), max(e for _, e in media)
    mine = sorted((e for e in events if e.participant == participant), key=lambda e: e.t_s)
    if not mine:
        return [(lo, hi)]
    spans: list[tuple[float, float]] = []
    # A first event that is a leave: joined before the events were recorded.
    opened: float | None = lo if mine[0].kind == "leave" else None
    for e in mine:
        if e.kind == "join" and opened is None:
            opened = e.t_s
        elif e.kind == "leave" and opened is not None:
            spans.append((opened, e.t_s))
            opened = None
    if opened is not None:
        spans.append((opened, hi))
    clipped = [(max(a, lo), min(b, hi)) for a, b in spans]
    return [(a, b) for a, b in clipped if b > a]


@dataclass
class InspectionInput:
    """Everything one inspection needs, as plain data."""

    salesperson: list[Track]
    customer: list[Track]
    template: Template
    policy: Policy
    markers: list[NodeMarker] = field(default_factory=list)
    gaps: list[Gap] | None = None  # recorded gaps; holes between segments are added to them
    evidence_dir: Path | None = None  # where thumbnails go; None: none are saved
    session_dir: Path | None = None  # evidence paths are relative to it when set
    session_id: str | None = None
    reference_photos: dict[str, Path] = field(default_factory=dict)  # participant -> photo
    attendance: list[AttendanceEvent] = field(default_factory=list)  # joins and leaves
    mode: str = "two_party"  # or "self_service": the customer alone with the system
    # Product key -> the template of its own nodes (a combined sale's products that name one).
    product_templates: dict[str, Template] = field(default_factory=dict)

    def tracks(self, participant: str) -> list[Track]:
        return self.salesperson if participant == "salesperson" else self.customer


# ---------------------------------------------------------------------------------------------
# Loading a session directory


def read_json_file(path: Path) -> Any:
    """A JSON file named on the command line, or InputError naming it. Parsed by
    pydantic-core, which bounds nesting depth: ``json.loads`` of 100,000 ``[`` raised
    RecursionError, a traceback instead of a reason."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path} not found") from None
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8
        raise InputError(f"{path} is not readable JSON: {exc}") from None
    try:
        return from_json(text, allow_inf_nan=True)
    except ValueError as exc:
        raise InputError(f"{path} is not readable JSON: {exc}") from None


def json_object(path: Path) -> dict[str, Any]:
    """A JSON file whose top level must be an object."""
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: must be a JSON object, not {type(data).__name__}")
    return data


def _objects(meta: dict[str, Any], key: str, where: Path) -> list[dict[str, Any]]:
    """``meta[key]``: a list of objects (absent or null: none)."""
    items = meta.get(key) or []
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise InputError(f"{where}: {key} must be a list of objects")
    return items


def _float(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) else default


def load_session_dir(
    path: Path, evidence_dir: Path | None = None, template: str | Path | None = None
) -> InspectionInput:
    """Read ``metadata.json`` of a server session directory (docs/session-format.md).

    The template is ``template`` when given, else ``template.yaml`` in the directory (a
    snapshot of the script used), else the built-in named by ``template_id``.
    """
    path = Path(path)
    meta_path = path / "metadata.json"
    meta = json_object(meta_path)
    if meta.get("schema") != "kesu.session/1":
        raise InputError(f"{meta_path}: schema must be kesu.session/1, not {meta.get('schema')!r}")
    try:
        policy = Policy.from_dict(meta.get("policy") or {})
    except (TypeError, ValueError) as exc:
        raise InputError(f"{meta_path}: policy: {exc}") from None
    if template is None and (path / "template.yaml").is_file():
        template = path / "template.yaml"
    template_obj = _load_template(str(template or meta.get("template_id") or ""))
    tracks = _tracks(meta, path, meta_path)
    markers = [
        NodeMarker(str(e["node"]), _float(e.get("t_s")))
        for e in _objects(meta, "events", meta_path)
        if e.get("type") == "node" and e.get("node")
    ]
    attendance = [
        AttendanceEvent(str(e["participant"]), str(e["type"]), _float(e.get("t_s")))
        for e in _objects(meta, "events", meta_path)
        if e.get("type") in ("join", "leave") and e.get("participant") in PARTICIPANTS
    ]
    gaps = [
        Gap(g["participant"], _float(g.get("start_s")), _float(g.get("end_s")))
        for g in _objects(meta, "gaps", meta_path)
        if g.get("participant") in PARTICIPANTS
    ]
    return InspectionInput(
        salesperson=sorted(tracks["salesperson"], key=lambda t: t.offset_s),
        customer=sorted(tracks["customer"], key=lambda t: t.offset_s),
        template=template_obj,
        policy=policy,
        markers=sorted(markers, key=lambda m: m.t_s),
        gaps=gaps,
        evidence_dir=evidence_dir or path / "evidence",
        session_dir=path,
        session_id=meta.get("session_id"),
        reference_photos=_reference_photos(policy, path),
        attendance=attendance,
        mode=str(meta.get("mode") or "two_party"),
        product_templates=_product_templates(policy, path),
    )


def _tracks(meta: dict[str, Any], path: Path, meta_path: Path) -> dict[str, list[Track]]:
    """Each participant's segments that are on disk and not empty, in metadata order; a
    size only for a finished segment (a live one may still grow)."""
    tracks: dict[str, list[Track]] = {p: [] for p in PARTICIPANTS}
    for seg in _objects(meta, "segments", meta_path):
        who, file = seg.get("participant"), seg.get("file")
        if who not in tracks or not file:
            continue
        media = path / str(file)
        if media.is_file() and media.stat().st_size > 0:
            size, end = seg.get("bytes"), seg.get("end_s")
            tracks[who].append(
                Track(
                    who,
                    media,
                    _float(seg.get("start_s")),
                    size if isinstance(size, int) and seg.get("status") == "finished" else None,
                    float(end) if isinstance(end, int | float) else None,
                )
            )
        else:
            log.warning("segment %s listed in metadata is missing or empty", media)
    return tracks


def _product_templates(policy: Policy, base: Path) -> dict[str, Template]:
    """The own templates the policy's products name: a file in ``base`` (the session
    directory, or beside the policy JSON), else a built-in id or a path."""
    out = {}
    for p in policy.products:
        if p.template_id:
            out[p.key] = _load_template(product_template_ref(p.template_id, base))
    return out


def product_template_ref(template_id: str, base: Path) -> str | Path:
    """A product's ``template_id``: an id (id syntax: never a file, so a stray file in
    ``base`` named like a built-in cannot stand in for it), else a file, looked for in
    ``base`` first."""
    ref = template_ref(template_id)
    if isinstance(ref, Path) and not ref.is_absolute() and (base / ref).is_file():
        return base / ref
    return ref


def _load_template(ref: str | Path) -> Template:
    try:
        return load_template(ref)
    except TemplateError as exc:
        raise InputError(f"template: {str(exc).splitlines()[0]}") from None


def _reference_photos(policy: Policy, base: Path | None) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for who, ref in (
        ("customer", policy.customer_photo),
        ("salesperson", policy.salesperson_photo),
    ):
        if not ref:
            continue
        photo = Path(ref)
        if not photo.is_absolute() and base is not None:
            photo = base / photo
        if not photo.is_file():
            raise InputError(f"{who} reference photo {photo} not found")
        out[who] = photo
    return out


def make_input(
    salesperson: list[Path],
    customer: list[Path],
    template: str | Path,
    policy_path: Path,
    markers_path: Path | None = None,
    evidence_dir: Path | None = None,
) -> InspectionInput:
    """Inputs for a pair of recordings (any container PyAV reads), each starting at t=0."""
    for media in [*salesperson, *customer]:
        if not Path(media).is_file():
            raise InputError(f"{media} not found")
    policy_data = json_object(Path(policy_path))
    try:
        policy = Policy.from_dict(policy_data)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{policy_path}: {exc}") from None
    markers: list[NodeMarker] = []
    if markers_path is not None:
        markers = _read_markers(Path(markers_path))
    return InspectionInput(
        salesperson=_chain_tracks("salesperson", salesperson),
        customer=_chain_tracks("customer", customer),
        template=_load_template(str(template)),
        policy=policy,
        markers=markers,
        evidence_dir=evidence_dir,
        reference_photos=_reference_photos(policy, Path(policy_path).parent),
        product_templates=_product_templates(policy, Path(policy_path).parent),
    )


def _chain_tracks(participant: str, paths: list[Path]) -> list[Track]:
    """Several files of one participant play one after another."""
    out, offset = [], 0.0
    for p in paths:
        out.append(Track(participant, Path(p), offset))
        if len(paths) > 1:
            try:
                offset += probe(Path(p)).duration_s
            except MediaError as exc:
                raise InputError(str(exc)) from None
    return out


def _read_markers(path: Path) -> list[NodeMarker]:
    """Node markers: a session metadata.json, its ``events`` list, or ``[{"node", "t_s"}]``."""
    data = read_json_file(path)
    events = data.get("events", []) if isinstance(data, dict) else data
    if not isinstance(events, list):
        raise InputError(f"{path}: expected a list of {{node, t_s}} markers")
    return sorted(
        (
            NodeMarker(str(e["node"]), _float(e.get("t_s")))
            for e in events
            if isinstance(e, dict) and e.get("node") and e.get("type", "node") == "node"
        ),
        key=lambda m: m.t_s,
    )
