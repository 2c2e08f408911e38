"""Find, verify and prepare the offline models listed in ``models/manifest.json``.

Models come from installed PyPI wheels (``models.sources``); each file is checked against
its sha256, with hashes cached so that a process start does not re-read 170 MB
(``models.hash_cache``); models that need it are prepared once in a cache directory
(``models.prepared``). Nothing here runs at import time: hashing and preparing happen in
``ModelRegistry`` methods.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from models.errors import ModelError
from models.hash_cache import HashCache
from models.manifest import ModelEntry, load_manifest
from models.prepared import PreparedModels
from models.sources import find_override, installed_version, verify_sources


@dataclass(frozen=True)
class ModelStatus:
    """Result of an offline check of one manifest entry."""

    name: str
    ok: bool
    path: Path | None
    detail: str
    state: str = "ok"  # "ok" | "missing" | "corrupt"
    fix: str = ""


def default_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """``$KESU_MODELS_CACHE``, else ``$XDG_CACHE_HOME/kesu/models`` or ``~/.cache/kesu/models``."""
    if environ.get("KESU_MODELS_CACHE"):
        return Path(environ["KESU_MODELS_CACHE"])
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kesu" / "models"


class ModelRegistry:
    """Locates every manifest model, verifies it offline and prepares it in ``cache_dir``."""

    def __init__(
        self,
        cache_dir: Path,
        override_dir: Path | None = None,
        manifest: Mapping[str, ModelEntry] | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.override_dir = Path(override_dir) if override_dir else None
        self.entries = dict(manifest if manifest is not None else load_manifest())
        self.hashes = HashCache(self.cache_dir / "verified.json")
        self.prepared = PreparedModels(self.cache_dir, self.hashes)
        self._lock = threading.Lock()
        self._paths: dict[str, Path] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ModelRegistry:
        """Registry with ``$KESU_MODELS_CACHE`` (or the default) and ``$KESU_MODELS_DIR``."""
        override = environ.get("KESU_MODELS_DIR")
        return cls(default_cache_dir(environ), Path(override) if override else None)

    def names(self) -> list[str]:
        """Model names in manifest order."""
        return list(self.entries)

    def path(self, name: str) -> Path:
        """Verified, prepared path of ``name``; prepares it on first use. Raises ModelError."""
        with self._lock:
            if name not in self._paths:
                self._paths[name] = self._resolve(self._entry(name))
            return self._paths[name]

    def prepare(self, names: list[str] | None = None) -> dict[str, Path]:
        """Prepare the given (default: all) models; returns their paths."""
        return {name: self.path(name) for name in (names or self.names())}

    def check(self) -> list[ModelStatus]:
        """Offline verification of every manifest entry (sources and prepared copies)."""
        return [self.check_one(name) for name in self.names()]

    def check_one(self, name: str) -> ModelStatus:
        """Offline verification of one entry; never raises for a broken model."""
        entry = self._entry(name)
        try:
            override = find_override(self.override_dir, entry)
            if override is not None:
                return ModelStatus(name, True, override, f"override {override}")
            sources = verify_sources(entry, self.hashes)
        except ModelError as exc:
            return ModelStatus(name, False, None, exc.detail, exc.state, exc.fix)
        prepared = self._prepared_path(entry, sources)
        versions = ", ".join(f"{p.name} {installed_version(p.name)}" for p in entry.packages)
        detail = f"{len(sources)} file(s) verified from {versions}"
        if entry.kind != "in-package" and prepared is None:
            where = next(iter(sources.values())).parent
            detail += (
                f" in {where}; not prepared yet (done on first use or by `kesu models prepare`)"
            )
        # ``path`` is what ``path()`` would return; None until the prepared copy exists.
        return ModelStatus(name, True, prepared, detail)

    def _entry(self, name: str) -> ModelEntry:
        try:
            return self.entries[name]
        except KeyError:
            known = ", ".join(self.entries)
            raise ModelError(
                name, "unknown", f"unknown model {name!r}", f"use one of: {known}"
            ) from None

    def _resolve(self, entry: ModelEntry) -> Path:
        override = find_override(self.override_dir, entry)
        if entry.kind == "onnx-rewrite":
            source = override or next(iter(verify_sources(entry, self.hashes).values()))
            return self.prepared.rewrite_onnx(entry, source)
        if override is not None:
            return override
        sources = verify_sources(entry, self.hashes)
        if entry.kind == "join-dir":
            return self.prepared.join(entry, sources)
        if entry.kind == "in-package" and entry.target:
            first = entry.files[0]
            root = sources[first.path].parents[len(Path(first.path).parts) - 1]
            return root / entry.target
        raise ModelError(
            entry.name, "unknown", f"bad manifest kind {entry.kind!r}", "fix models/manifest.json"
        )

    def _prepared_path(self, entry: ModelEntry, sources: dict[str, Path]) -> Path | None:
        """Where the prepared model is, if it is already there and intact."""
        if entry.kind in ("join-dir", "onnx-rewrite"):
            return self.prepared.find(entry, sources)
        return self._resolve(entry)
