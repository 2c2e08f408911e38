"""Labelled synthetic sessions for the inspection: plan what is said and shown, then write it.

A session is planned as a list of *beats* (a salesperson node, a customer answer, a forbidden
sentence, a silent wait), laid out on a timeline with pauses, then rendered to the server's
session directory format (docs/session-format.md) plus ``labels.json``:

    {"kind", "description", "expected_codes": [...],
     "expected_findings": [{"code", "participant", "node"}], "template_id", "policy", ...}

``make_session(tmp_path, kind)`` builds one small session for pipeline tests; the catalogue
``corpus_specs()`` used by scripts/make_corpus.py covers every finding code at least twice.
The plan and its layout are ``tests.corpus_plan``, the kinds of defect ``tests.corpus_kinds``,
the writing of a session directory ``tests.corpus_write``; this module puts them together.
Needs only committed fixtures (tests/data/tts, tests/data/faces) + PyAV, numpy, OpenCV, PIL.
"""

from __future__ import annotations

from pathlib import Path

from tests.corpus_kinds import KINDS
from tests.corpus_plan import (
    AFFIRMATIVE_ANSWERS,
    CONSENT_ANSWERS,
    ID_ANSWERS,
    NEGATIVE_ANSWERS,
    TEMPLATE_IDS,
    Expected,
    SessionSpec,
    base_plan,
    layout,
    lines,
)
from tests.corpus_write import labels_json, plan_metadata, write_json, write_media


def build_session(out_root: Path, spec: SessionSpec, fps: float = 5.0) -> Path:
    """Plan, lay out and write one session into ``out_root/spec.session_id``; returns the dir."""
    plan = base_plan(spec.template_id, spec.policy_key, spec.seed)
    change, description = KINDS[spec.kind]
    expected = change(plan)
    if spec.video_codec:
        plan.video_codec = spec.video_codec
    else:  # H264 (fast to encode); some short sessions VP8 (what browsers send by default)
        vp8 = spec.template_id == "mini" and plan.rng.random() < 0.2
        plan.video_codec = "libvpx" if vp8 else "libx264"
    duration = layout(plan)
    out = out_root / spec.session_id
    out.mkdir(parents=True, exist_ok=True)
    segments = write_media(plan, out, duration, fps)
    write_json(out / "metadata.json", plan_metadata(plan, spec, duration, segments))
    write_json(out / "labels.json", labels_json(plan, spec, expected, description, duration))
    return out


# ------------------------------------------------------------------------------------------
# The corpus and the test helper


def corpus_specs(seed: int = 0, templates: tuple[str, ...] = TEMPLATE_IDS) -> list[SessionSpec]:
    """The labelled corpus: clean sessions and every finding code at least twice."""
    rows: list[tuple[str, str, str]] = [
        ("clean", "mini", "a"),
        ("clean", "mini", "b"),
        ("clean", "traditional_life", "a"),
        ("clean", "participating_universal", "a"),
        ("clean", "participating_universal", "b"),
        ("clean", "investment_linked", "a"),
        ("consent_missing", "mini", "a"),
        ("consent_missing", "traditional_life", "b"),
        ("consent_refused", "mini", "b"),
        ("reminder_missing", "mini", "b"),
        ("reminder_short", "mini", "a"),
        ("reminder_short", "traditional_life", "a"),
        ("node_missing", "mini", "a"),
        ("node_missing", "mini", "b"),
        ("node_missing", "investment_linked", "b"),
        ("out_of_order", "mini", "a"),
        ("out_of_order", "mini", "b"),
        ("negative_answer", "mini", "a"),
        ("negative_answer", "participating_universal", "a"),
        ("no_answer", "mini", "b"),
        ("forbidden_guarantee", "mini", "a"),
        ("forbidden_inducement", "mini", "b"),
        ("wrong_premium", "mini", "a"),
        ("wrong_days", "mini", "b"),
        ("wrong_days", "traditional_life", "a"),
        ("customer_absent", "mini", "a"),
        ("customer_absent", "mini", "b"),
        ("extra_person_customer", "mini", "a"),
        ("extra_person_salesperson", "mini", "b"),
        ("identity_mismatch", "mini", "a"),
        ("identity_mismatch", "mini", "b"),
        ("id_card_missing", "mini", "a"),
        ("id_card_missing", "mini", "b"),
        ("id_card_wrong_number", "mini", "a"),
        ("id_card_wrong_name", "mini", "b"),
        ("id_card_bad_check_digit", "mini", "a"),
        ("signature_missing", "mini", "a"),
        ("signature_mismatch", "mini", "a"),
        ("signature_mismatch", "mini", "b"),
        ("risk_sentence_missing", "mini", "b"),
        ("risk_sentence_altered", "mini", "a"),
        ("risk_sentence_truncated", "mini", "b"),
        ("page_missing", "mini", "b"),
        ("quality_clipped", "mini", "a"),
        ("quality_dark", "mini", "b"),
        ("quality_muted", "mini", "a"),
        ("media_gap", "mini", "a"),
        ("media_gap", "traditional_life", "b"),
    ]
    specs = []
    for i, (kind, template_id, key) in enumerate(rows):
        if template_id not in templates:
            continue
        sid = f"c{i:02d}-{kind.replace('_', '-')}-{template_id.split('_')[0]}-{key}"
        specs.append(SessionSpec(sid, kind, template_id, key, seed * 1000 + i))
    return specs


def spec_expected(spec: SessionSpec) -> Expected:
    """The findings a session of ``spec`` expects (planned only, nothing rendered)."""
    plan = base_plan(spec.template_id, spec.policy_key, spec.seed)
    return KINDS[spec.kind][0](plan)


def spec_lines(spec: SessionSpec) -> list[str]:
    """Every text a session speaks (without laying it out: no clips needed)."""
    plan = base_plan(spec.template_id, spec.policy_key, spec.seed)
    KINDS[spec.kind][0](plan)
    return lines(plan)


def all_lines() -> list[str]:
    """Every text any kind of session can speak, for either policy (for TTS synthesis).

    Answers are drawn from small pools, so every pool entry is included whatever the seed.
    """
    out: list[str] = []
    for template_id in TEMPLATE_IDS:
        for key in ("a", "b"):
            for kind in KINDS:
                try:
                    out += spec_lines(SessionSpec("x", kind, template_id, key))
                except StopIteration:
                    pass  # the kind needs a node this template lacks
    out += list(NEGATIVE_ANSWERS) + list(AFFIRMATIVE_ANSWERS) + list(CONSENT_ANSWERS)
    out += list(ID_ANSWERS)
    return list(dict.fromkeys(out))


def make_session(
    tmp_path: Path,
    kind: str = "clean",
    template_id: str = "mini",
    policy_key: str = "a",
    seed: int = 0,
    fps: float = 5.0,
    video_codec: str = "libx264",
) -> Path:
    """Build one small labelled session under ``tmp_path`` for a pipeline test; returns its dir.

    H264 by default because it encodes a few times faster than VP8 (``video_codec="libvpx"``).
    """
    sid = f"t-{kind.replace('_', '-')}-{template_id.split('_')[0]}-{policy_key}-{seed}"
    spec = SessionSpec(sid, kind, template_id, policy_key, seed, video_codec)
    return build_session(tmp_path, spec, fps)
