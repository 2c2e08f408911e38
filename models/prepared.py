"""Prepared copies of models in the cache directory: split weights joined into one
directory, ONNX files rewritten for onnxruntime. Each file is written under a temporary name
and then replaced, under a lock that serialises preparation across processes sharing the
cache, and found again (intact) by its sha256."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from models.durable_write import atomic_write
from models.errors import ModelError
from models.hash_cache import HashCache, temp_name
from models.manifest import ModelEntry, OutputSpec

_CHUNK = 1 << 20


class PreparedModels:
    """The prepared models under ``cache_dir``, hashed through ``hashes``."""

    def __init__(self, cache_dir: Path, hashes: HashCache) -> None:
        self.cache_dir = cache_dir
        self.hashes = hashes

    def find(self, entry: ModelEntry, sources: dict[str, Path]) -> Path | None:
        """Where the prepared ``join-dir`` or ``onnx-rewrite`` model is, if it is already
        there and intact."""
        if entry.kind == "join-dir":
            out_dir = self._join_dir(entry)
            ok = all(self._output_ok(out_dir / o.name, o) for o in entry.outputs)
            return out_dir if ok else None
        target = self._onnx_target(entry, next(iter(sources.values())))
        return target if self._onnx_ok(target) else None

    def join(self, entry: ModelEntry, sources: dict[str, Path]) -> Path:
        """Concatenate split weights and copy the rest into one directory, atomically per file."""
        out_dir = self._join_dir(entry)
        with self._lock():
            out_dir.mkdir(parents=True, exist_ok=True)
            for spec in entry.outputs:
                target = out_dir / spec.name
                if self._output_ok(target, spec):
                    continue
                tmp = temp_name(target)
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

    def rewrite_onnx(self, entry: ModelEntry, source: Path) -> Path:
        """Rewrite an ONNX file for onnxruntime once per source hash."""
        from models.onnx_rewrite import rewrite_file

        target = self._onnx_target(entry, source)
        with self._lock():
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
            atomic_write(sidecar, (self.hashes.sha256(target) + "\n").encode("ascii"))
        return target

    def _join_dir(self, entry: ModelEntry) -> Path:
        return self.cache_dir / f"{entry.name}-{entry.outputs[0].sha256[:12]}"

    def _onnx_target(self, entry: ModelEntry, source: Path) -> Path:
        from models.onnx_rewrite import REWRITE_VERSION

        digest = self.hashes.sha256(source)
        return self.cache_dir / f"{entry.name}-{digest[:16]}-r{REWRITE_VERSION}.onnx"

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

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
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
