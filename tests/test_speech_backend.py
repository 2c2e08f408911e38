"""The speech model's arithmetic is pinned (oneDNN, whatever the CPU's vendor) and reported as
CTranslate2 itself reports it (inspection.speech_backend)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Loads the real recognizer (CTranslate2 logs its system configuration at the first load with
# CT2_VERBOSE=1) and prints what the inspection records in its report.
_PROBE = """
import json
from inspection import speech_backend
from inspection.speech import SpeechRecognizer
from models.registry import ModelRegistry
SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=1)
print(json.dumps(speech_backend.describe().to_dict()))
"""


def _load(**env: str) -> tuple[dict[str, object], dict[str, str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CT2_", "ONEDNN_", "DNNL_"))}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env={**clean, "CT2_VERBOSE": "1", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    logged = dict(re.findall(r"- (Use Intel MKL|GEMM_S8 backend|Selected ISA): (\w+)", proc.stderr))
    assert len(logged) == 3, proc.stderr[-2000:]  # CTranslate2's own account of the load
    return json.loads(proc.stdout.strip().splitlines()[-1]), logged


@pytest.mark.slow
def test_the_speech_model_runs_on_onednn_on_every_cpu_and_the_report_says_so() -> None:
    described, logged = _load()
    assert logged["Use Intel MKL"] == "false"
    assert logged["GEMM_S8 backend"] == "DNNL" == described["gemm"]
    assert logged["Selected ISA"] == described["ct2_isa"]
    assert described["environment"] == {"CT2_USE_MKL": "0"}


@pytest.mark.slow
def test_an_operators_own_backend_choice_is_kept_and_reported() -> None:
    described, logged = _load(CT2_USE_MKL="1", CT2_FORCE_CPU_ISA="AVX2")
    assert logged["Use Intel MKL"] == "true"
    assert logged["GEMM_S8 backend"] == "MKL" == described["gemm"]
    assert logged["Selected ISA"] == "AVX2" == described["ct2_isa"]
    assert described["environment"] == {"CT2_USE_MKL": "1", "CT2_FORCE_CPU_ISA": "AVX2"}
