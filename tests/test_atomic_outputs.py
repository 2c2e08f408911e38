"""``kesu inspect -o`` and the models hash cache are replaced whole or not at all: a write
that fails half-way (here a full disk, simulated with a file-size limit in a child process)
leaves the file that was there before, intact, and no temporary file beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cli_run import REPO

# The child may write at most LIMIT bytes into any one file; past that write() fails with
# EFBIG (SIGXFSZ ignored), as it fails with ENOSPC on a full disk.
_LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (%d, %d))
"""
LIMIT = 4096


def _run_limited(code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESU_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-c", _LIMITED % (LIMIT, LIMIT) + code, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


_WRITE_REPORT = """
from pathlib import Path
from inspection.cli import write_report
try:
    write_report(Path(sys.argv[1]), {"verdict": "pass", "findings": ["x" * 100] * 100})
except OSError as exc:
    print(exc.errno, file=sys.stderr)
    sys.exit(3)
"""


def test_a_failed_report_write_keeps_the_report_before(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    good = json.dumps({"verdict": "flagged", "findings": []})
    out.write_text(good, encoding="utf-8")
    done = _run_limited(_WRITE_REPORT, str(out))
    assert done.returncode == 3, done
    assert out.read_text(encoding="utf-8") == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


_RECORD_HASHES = """
from pathlib import Path
from models.hash_cache import HashCache
cache = HashCache(Path(sys.argv[1]))
for n in range(200):
    model = Path(sys.argv[2]) / f"model-{n:03d}.bin"
    model.write_bytes(b"w")
    cache.record(model, "0" * 64)
"""


def test_a_failed_hash_cache_write_keeps_the_cache_before(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    cache = cache_dir / "verified.json"
    models = tmp_path / "models"
    models.mkdir()
    good = json.dumps({"/m/a.onnx": {"stamp": [1, 2, 3, 4], "sha256": "a" * 64}})
    cache.write_text(good, encoding="utf-8")
    done = _run_limited(_RECORD_HASHES, str(cache), str(models))
    # A cache that cannot be written only costs re-hashing: no error.
    assert done.returncode == 0, done
    # Its entries grew past the limit at some record(): that write failed. The cache holds
    # a whole JSON document (the last one that fitted), and nothing half-written is left.
    assert isinstance(json.loads(cache.read_text(encoding="utf-8")), dict)
    assert sorted(p.name for p in cache_dir.iterdir()) == ["verified.json"]
