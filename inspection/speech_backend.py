"""Which arithmetic the Whisper model runs on, pinned so a verdict does not follow the CPU vendor.

CTranslate2 picks its matrix-multiply backend by vendor: Intel MKL on a GenuineIntel CPU,
oneDNN on any other. The two round differently, and a beam search turns a rounding difference
into other words: on the same AMD machine and the same four dev sessions, forcing MKL changed
52 of 74 utterances (and took 4.8 times as long; docs/inspection.md, "The speech model's
arithmetic"). So the same recording got another transcript, and possibly another verdict, on an
Intel server than on the machine the checks were tuned on. ``pin`` makes oneDNN the backend on
every x86-64 CPU unless the operator sets ``CT2_USE_MKL`` themselves; ``describe`` records what
ran in each report, so a verdict can be reproduced later on a like machine.

What stays machine-dependent: oneDNN's own instruction set (AVX-512 or AVX2; capped with
``ONEDNN_MAX_CPU_ISA``), which moved 41 of the same 74 utterances. It is recorded, not pinned:
capping everyone at AVX2 would change every measured figure and was not measured enough.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

#: Set in the environment before the first model loads unless the operator set them.
PINNED: dict[str, str] = {"CT2_USE_MKL": "0"}
#: Variables that change the arithmetic, reported when set (CTranslate2 reads them at load).
_KNOWN = ("CT2_USE_MKL", "CT2_FORCE_CPU_ISA", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
#: CPU features that select oneDNN's kernels.
_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8")


@dataclass(frozen=True)
class SpeechBackend:
    ctranslate2: str
    gemm: str  # "DNNL" (oneDNN) or "MKL"; "other" off x86-64
    ct2_isa: str  # CTranslate2's own kernels: AVX2 unless CT2_FORCE_CPU_ISA says otherwise
    onednn_max_isa: str  # "auto" unless capped
    cpu: str  # vendor and model name
    cpu_flags: list[str]
    environment: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pin() -> None:
    """Call before a CTranslate2 model is loaded in this process: CTranslate2 reads these once."""
    for key, value in PINNED.items():
        os.environ.setdefault(key, value)


def _truthy(value: str) -> bool:
    # CTranslate2's own string_to_bool (src/utils.cc).
    return value in ("1", "true", "TRUE")


def _cpuinfo() -> tuple[str, str, list[str]]:
    """(vendor, model name, the flags in ``_FLAGS`` it has) of the first CPU."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "", platform.processor() or platform.machine(), []
    seen: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        seen.setdefault(key.strip(), value.strip())
    flags = set(seen.get("flags", "").split())
    name = seen.get("model name") or platform.machine()
    return seen.get("vendor_id", ""), name, [f for f in _FLAGS if f in flags]


def describe() -> SpeechBackend:
    """What a model loaded now in this process runs on (after ``pin``)."""
    env = {k: os.environ[k] for k in _KNOWN if k in os.environ}
    vendor, cpu, flags = _cpuinfo()
    # Unset, CTranslate2 takes MKL on Intel only (src/cpu/backend.cc, mayiuse_mkl_init).
    use_mkl = env.get("CT2_USE_MKL")
    mkl = vendor == "GenuineIntel" if use_mkl is None else _truthy(use_mkl)
    try:
        version = metadata.version("ctranslate2")
    except metadata.PackageNotFoundError:
        version = "not installed"
    return SpeechBackend(
        ctranslate2=version,
        # The PyPI wheels carry MKL and oneDNN on x86-64 only (Ruy or Accelerate elsewhere).
        gemm=("MKL" if mkl else "DNNL") if platform.machine() in ("x86_64", "AMD64") else "other",
        ct2_isa=env.get("CT2_FORCE_CPU_ISA", "AVX2" if "avx2" in flags else "auto"),
        onednn_max_isa=env.get("ONEDNN_MAX_CPU_ISA", env.get("DNNL_MAX_CPU_ISA", "auto")),
        cpu=f"{vendor} {cpu}".strip(),
        cpu_flags=flags,
        environment=env,
    )
