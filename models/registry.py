"""Find, verify and prepare the offline models listed in ``models/manifest.json``.

Models come from installed PyPI wheels, located with ``importlib.util.find_spec`` (which
does not import them). Each file is checked against its sha256; hashes are cached by
size, mtime, ctime and inode so that a process start does not re-read 170 MB. Nothing here
runs at import time: hashing and preparing happen in ``ModelRegistry`` methods.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
_CHUNK = 1 << 20


class ModelError(Exception):
    """A model is missing, corrupt or cannot be prepared; the message says how to fix it."""

    def __init__(self, model: str, state: str, detail: str, fix: str) -> None:
        super().__init__(f"{detail}. Fix: {fix}")
        self.model = model
        self.state = state  # "missing" | "corrupt" | "unknown"
        self.detail = detail
        self.fix = fix


@dataclass(frozen=True)
class ModelStatus:
    """Result of an offline check of one manifest entry."""

    name: str
    ok: bool
    path: Path | None
    detail: str
    state: str = "ok"  # "ok" | "missing" | "corrupt"
    fix: str = ""


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


def default_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """``$KESU_MODELS_CACHE``, else ``$XDG_CACHE_HOME/kesu/models`` or ``~/.cache/kesu/models``."""
    if environ.get("KESU_MODELS_CACHE"):
        return Path(environ["KESU_MODELS_CACHE"])
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kesu" / "models"


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


class HashCache:
    """sha256 of files, remembered by (size, mtime, ctime, inode) in a small JSON file."""

    def __init__(self, file: Path) -> None:
        self._file = file
        self._entries: dict[str, dict[str, Any]] | None = None
        self.hashed = 0  # files actually read, for tests and diagnostics

    def sha256(self, path: Path) -> str:
        """Hash of ``path``, read from the cache when the file is unchanged."""
        st = path.stat()
        cached = self._load().get(str(path.resolve()))
        if cached is not None and cached.get("stamp") == _stamp(st):
            return str(cached["sha256"])
        with path.open("rb") as stream:
            digest = hashlib.file_digest(stream, "sha256").hexdigest()
        self.hashed += 1
        self.record(path, digest)
        return digest

    def record(self, path: Path, digest: str) -> None:
        """Remember that ``path`` (as it is now) hashes to ``digest``."""
        entries = self._load()
        entries[str(path.resolve())] = {"stamp": _stamp(path.stat()), "sha256": digest}
        self._save(entries)

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            try:
                self._entries = json.loads(self._file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def _save(self, entries: dict[str, dict[str, Any]]) -> None:
        # A read-only cache only costs re-hashing, so write failures are ignored.
        with contextlib.suppress(OSError):
            self._file.parent.mkdir(parents=True, exist_ok=True)
            tmp = _temp_name(self._file)
            tmp.write_text(json.dumps(entries, indent=0, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self._file)


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


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
            override = self._override(entry)
            if override is not None:
                return ModelStatus(name, True, override, f"override {override}")
            sources = self._verify_sources(entry)
        except ModelError as exc:
            return ModelStatus(name, False, None, exc.detail, exc.state, exc.fix)
        prepared = self._prepared_path(entry, sources)
        versions = ", ".join(f"{p.name} {_installed_version(p.name)}" for p in entry.packages)
        detail = f"{len(sources)} file(s) verified from {versions}"
        if entry.kind != "in-package" and prepared is None:
            where = next(iter(sources.values())).parent
            detail += (
                f" in {where}; not prepared yet (done on first use or by `kesu models prepare`)"
            )
        # ``path`` is what ``path()`` would return; None until the prepared copy exists.
        return ModelStatus(name, True, prepared, detail)

    # -- locating and verifying -------------------------------------------------------

    def _entry(self, name: str) -> ModelEntry:
        try:
            return self.entries[name]
        except KeyError:
            known = ", ".join(self.entries)
            raise ModelError(
                name, "unknown", f"unknown model {name!r}", f"use one of: {known}"
            ) from None

    def _override(self, entry: ModelEntry) -> Path | None:
        """The override file or directory for ``entry``, if one exists."""
        if self.override_dir is None or entry.override is None:
            return None
        candidate = self.override_dir / entry.override.name
        if not candidate.exists():
            return None
        missing = [r for r in entry.override.requires if not (candidate / r).is_file()]
        if missing:
            raise ModelError(
                entry.name,
                "missing",
                f"model {entry.name!r}: override {candidate} lacks {', '.join(missing)}",
                f"add the files, or remove {candidate} to use the packaged model",
            )
        return candidate

    def _package_dir(self, entry: ModelEntry, package: PackageRef) -> Path:
        """Directory of an installed package, found without importing it."""
        try:
            spec = importlib.util.find_spec(package.module)
        except (ImportError, ValueError):
            spec = None
        locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations:
            raise ModelError(
                entry.name,
                "missing",
                f"model {entry.name!r} needs the Python package {package.name}=={package.version}, "
                "which is not installed",
                entry.install,
            )
        return Path(locations[0])

    def _verify_sources(self, entry: ModelEntry) -> dict[str, Path]:
        """Check every source file's size and sha256; map manifest path -> real path."""
        dirs = {p.name: self._package_dir(entry, p) for p in entry.packages}
        found = {}
        for spec in entry.files:
            path = dirs[spec.package] / spec.path
            origin = f"{spec.package} {_installed_version(spec.package)}"
            if not path.is_file():
                raise ModelError(
                    entry.name,
                    "missing",
                    f"model {entry.name!r}: {path} is missing ({origin})",
                    entry.reinstall,
                )
            size = path.stat().st_size
            digest = self.hashes.sha256(path) if size == spec.size else None
            if digest != spec.sha256:
                got = f"sha256 {digest}" if digest else f"size {size}"
                raise ModelError(
                    entry.name,
                    "corrupt",
                    f"model {entry.name!r}: {path} has {got}, expected sha256 {spec.sha256} "
                    f"(size {spec.size}) ({origin})",
                    entry.reinstall,
                )
            found[spec.path] = path
        return found

    # -- preparing ----------------------------------------------------------------------

    def _resolve(self, entry: ModelEntry) -> Path:
        override = self._override(entry)
        if entry.kind == "onnx-rewrite":
            source = override or next(iter(self._verify_sources(entry).values()))
            return self._prepare_onnx(entry, source)
        if override is not None:
            return override
        sources = self._verify_sources(entry)
        if entry.kind == "join-dir":
            return self._prepare_join(entry, sources)
        if entry.kind == "in-package" and entry.target:
            first = entry.files[0]
            root = sources[first.path].parents[len(Path(first.path).parts) - 1]
            return root / entry.target
        raise ModelError(
            entry.name, "unknown", f"bad manifest kind {entry.kind!r}", "fix models/manifest.json"
        )

    def _join_dir(self, entry: ModelEntry) -> Path:
        return self.cache_dir / f"{entry.name}-{entry.outputs[0].sha256[:12]}"

    def _onnx_target(self, entry: ModelEntry, source: Path) -> Path:
        from models.onnx_rewrite import REWRITE_VERSION

        digest = self.hashes.sha256(source)
        return self.cache_dir / f"{entry.name}-{digest[:16]}-r{REWRITE_VERSION}.onnx"

    def _prepared_path(self, entry: ModelEntry, sources: dict[str, Path]) -> Path | None:
        """Where the prepared model is, if it is already there and intact."""
        if entry.kind == "join-dir":
            out_dir = self._join_dir(entry)
            ok = all(self._output_ok(out_dir / o.name, o) for o in entry.outputs)
            return out_dir if ok else None
        if entry.kind == "onnx-rewrite":
            target = self._onnx_target(entry, next(iter(sources.values())))
            return target if self._onnx_ok(target) else None
        return self._resolve(entry)

    def _output_ok(self, path: Path, spec: OutputSpec) -> bool:
        return (
            path.is_file()
            and path.stat().st_size == spec.size
            and self.hashes.sha256(path) == spec.sha256
        )

    def _onnx_ok(self, target: Path) -> bool:
        sidecar = target.with_name(target.name + ".sha256")
        if not (target.is_file() and sidecar.is_file()):
            return False
        return self.hashes.sha256(target) == sidecar.read_text(encoding="ascii").strip()

    def _prepare_join(self, entry: ModelEntry, sources: dict[str, Path]) -> Path:
        """Concatenate split weights and copy the rest into one directory, atomically per file."""
        out_dir = self._join_dir(entry)
        with self._cache_lock():
            out_dir.mkdir(parents=True, exist_ok=True)
            for spec in entry.outputs:
                target = out_dir / spec.name
                if self._output_ok(target, spec):
                    continue
                tmp = _temp_name(target)
                try:
                    digest = _concatenate([sources[s] for s in spec.sources], tmp)
                    if digest != spec.sha256:
                        raise ModelError(
                            entry.name,
                            "corrupt",
                            f"model {entry.name!r}: joined {spec.name} has sha256 {digest}, "
                            f"expected {spec.sha256}",
                            entry.reinstall,
                        )
                    os.replace(tmp, target)
                finally:
                    tmp.unlink(missing_ok=True)
                self.hashes.record(target, digest)
        return out_dir

    def _prepare_onnx(self, entry: ModelEntry, source: Path) -> Path:
        """Rewrite an ONNX file for onnxruntime once per source hash."""
        from models.onnx_rewrite import rewrite_file

        target = self._onnx_target(entry, source)
        with self._cache_lock():
            if self._onnx_ok(target):
                return target
            try:
                rewrite_file(source, target)
            except Exception as exc:  # onnx raises many types for a bad file
                raise ModelError(
                    entry.name,
                    "corrupt",
                    f"model {entry.name!r}: cannot rewrite {source} for onnxruntime: {exc}",
                    entry.reinstall,
                ) from exc
            sidecar = target.with_name(target.name + ".sha256")
            tmp = _temp_name(sidecar)
            tmp.write_text(self.hashes.sha256(target) + "\n", encoding="ascii")
            os.replace(tmp, sidecar)
        return target

    @contextlib.contextmanager
    def _cache_lock(self) -> Iterator[None]:
        """Serialise preparation across processes sharing the cache directory."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with (self.cache_dir / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _concatenate(parts: list[Path], target: Path) -> str:
    """Write ``parts`` end to end into ``target``; return the sha256 of what was written."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    return digest.hexdigest()


def _installed_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"
