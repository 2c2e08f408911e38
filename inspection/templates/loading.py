"""Finding and loading templates: the built-ins shipped in ``inspection/templates/*.yaml``,
an installation's own (``KESU_TEMPLATES_DIR``), or any file; playback audio resolved."""

from __future__ import annotations

import os
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from inspection.templates.format import ID_RE, Template, TemplateError, TemplateIssue
from inspection.templates.validation import parse_template

BUILTIN_DIR = "templates"  # package data directory inside `inspection`
TEMPLATES_DIR_ENV = "KESU_TEMPLATES_DIR"


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
            out.update({p.stem: p for p in d.glob("*.yaml") if ID_RE.match(p.stem)})
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
    """Load a template by id (a ``str`` of id syntax, e.g. ``traditional_life``: one in
    ``KESU_TEMPLATES_DIR``, else a built-in) or from a YAML file (a ``Path``, or a ``str``
    that is not an id, e.g. ``./traditional_life`` or ``mine.yaml``).

    Ids and paths never overlap: an id is never looked up as a file, so a stray file of the
    working directory named like a built-in can never stand in for it."""
    if isinstance(path_or_id, str) and ID_RE.match(path_or_id):
        return _by_id(path_or_id)
    path = Path(path_or_id)
    if path.is_dir():
        # Was "no such file": wrong about a path that is there (a folder given for the file).
        issue = "is a directory, not a template file"
        raise TemplateError(str(path_or_id), [TemplateIssue(None, "", issue)])
    if not path.is_file():
        raise TemplateError(str(path_or_id), [TemplateIssue(None, "", "no such file")])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(str(path), [TemplateIssue(None, "", f"cannot read: {exc}")]) from None
    return _resolve_playback(parse_template(text, str(path)), path.parent)


def template_ref(arg: str) -> str | Path:
    """What a command-line argument names: an id if it has id syntax, else a file. A file
    whose name is an id is named by a path (``./traditional_life``)."""
    return arg if ID_RE.match(arg) else Path(arg)


def _by_id(key: str) -> Template:
    installed = _installed_files()
    if key in installed:
        return _named(load_template(installed[key]), key)
    builtin = _builtin_files()
    if key in builtin:
        text = builtin[key].read_text(encoding="utf-8")
        return _named(parse_template(text, f"builtin:{key}"), key)
    known = ", ".join(template_ids())
    issue = f"no such built-in or installed template (known: {known}); a file: ./{key}"
    raise TemplateError(key, [TemplateIssue(None, "", issue)])


def _named(tpl: Template, name: str) -> Template:
    """A template found by name must carry that name as its id."""
    if tpl.id != name:
        raise TemplateError(
            tpl.source or name, [TemplateIssue(None, "id", f"must equal the file name {name!r}")]
        )
    return tpl


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
