"""A model's source files: found in installed PyPI wheels with ``importlib.util.find_spec``
(which does not import them) or in a deployment's override directory, each checked against
the manifest's size and sha256."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from models.errors import ModelError
from models.hash_cache import HashCache
from models.manifest import ModelEntry, PackageRef


def find_override(override_dir: Path | None, entry: ModelEntry) -> Path | None:
    """The override file or directory for ``entry``, if one exists."""
    if override_dir is None or entry.override is None:
        return None
    candidate = override_dir / entry.override.name
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


def package_dir(entry: ModelEntry, package: PackageRef) -> Path:
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


def verify_sources(entry: ModelEntry, hashes: HashCache) -> dict[str, Path]:
    """Check every source file's size and sha256; map manifest path -> real path."""
    dirs = {p.name: package_dir(entry, p) for p in entry.packages}
    found = {}
    for spec in entry.files:
        path = dirs[spec.package] / spec.path
        origin = f"{spec.package} {installed_version(spec.package)}"
        if not path.is_file():
            raise ModelError(
                entry.name,
                "missing",
                f"model {entry.name!r}: {path} is missing ({origin})",
                entry.reinstall,
            )
        size = path.stat().st_size
        digest = hashes.sha256(path) if size == spec.size else None
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


def installed_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"
