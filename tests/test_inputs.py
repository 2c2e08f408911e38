"""Inspection inputs: reading a server session directory and a pair of recordings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from inspection.inputs import (
    InputError,
    NodeMarker,
    load_session_dir,
    make_input,
    product_template_ref,
)
from inspection.media import Track
from tests.corpus_plan import MINI_TEMPLATE, policy_for

# --- loading -------------------------------------------------------------------------------


def _metadata(**kw: object) -> dict[str, object]:
    meta: dict[str, object] = {
        "schema": "kesu.session/1",
        "session_id": "s-1",
        "template_id": "traditional_life",
        "policy": policy_for("traditional_life", "a").to_dict(),
        "segments": [
            {
                "participant": "salesperson",
                "index": 0,
                "file": "salesperson-000.mkv",
                "start_s": 0.0,
            },
            {"participant": "customer", "index": 0, "file": "customer-000.mkv", "start_s": 0.5},
            {"participant": "customer", "index": 1, "file": "customer-001.mkv", "start_s": 40.0},
            {"participant": "customer", "index": 2, "file": "customer-002.mkv", "start_s": 80.0},
        ],
        "events": [
            {"t_s": 1.0, "type": "node", "node": "consent"},
            {"t_s": 0.2, "type": "join", "participant": "customer"},
            {"t_s": 9.0, "type": "node", "node": "reminder"},
        ],
        "gaps": [{"participant": "customer", "start_s": 30.0, "end_s": 40.0}],
    }
    meta.update(kw)
    return meta


def _write(d: Path, meta: dict[str, object]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    for name in ("salesperson-000.mkv", "customer-000.mkv", "customer-001.mkv"):
        (d / name).write_bytes(b"x")  # customer-002.mkv is missing: skipped
    return d


def test_load_session_dir(tmp_path: Path) -> None:
    inp = load_session_dir(_write(tmp_path / "s", _metadata()))
    assert inp.salesperson == [Track("salesperson", tmp_path / "s" / "salesperson-000.mkv", 0.0)]
    assert [t.offset_s for t in inp.customer] == [0.5, 40.0]
    assert inp.markers == [NodeMarker("consent", 1.0), NodeMarker("reminder", 9.0)]
    assert inp.gaps is not None and [(g.participant, g.start_s, g.end_s) for g in inp.gaps] == [
        ("customer", 30.0, 40.0)
    ]
    assert inp.template.id == "traditional_life" and inp.session_id == "s-1"
    assert inp.evidence_dir == tmp_path / "s" / "evidence" and inp.session_dir == tmp_path / "s"


def test_template_snapshot_and_override(tmp_path: Path) -> None:
    d = _write(tmp_path / "s", _metadata(template_id="mini"))
    with pytest.raises(InputError, match="template: .*no such built-in or installed template"):
        load_session_dir(d)
    assert load_session_dir(d, template=str(MINI_TEMPLATE)).template.id == "mini"
    shutil.copy(MINI_TEMPLATE, d / "template.yaml")
    assert load_session_dir(d).template.id == "mini"


def test_bad_session_dirs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="metadata.json not found"):
        load_session_dir(tmp_path)
    with pytest.raises(InputError, match="schema must be kesu.session/1"):
        load_session_dir(_write(tmp_path / "a", _metadata(schema="other")))
    with pytest.raises(InputError, match="policy data lacks customer_id_number"):
        load_session_dir(
            _write(tmp_path / "b", _metadata(policy={"customer_name": "x", "product_name": "y"}))
        )
    with pytest.raises(InputError, match="customer reference photo"):
        photo = {**policy_for("traditional_life", "a").to_dict(), "customer_photo": "nope.jpg"}
        load_session_dir(_write(tmp_path / "c", _metadata(policy=photo)))


def test_make_input_errors(tmp_path: Path) -> None:
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(policy_for("mini", "a").to_dict()), encoding="utf-8")
    media = tmp_path / "a.mkv"
    media.write_bytes(b"x")
    with pytest.raises(InputError, match="nope.mkv not found"):
        make_input([media], [tmp_path / "nope.mkv"], "traditional_life", policy)
    with pytest.raises(InputError, match="template"):
        make_input([media], [media], "no_such", policy)
    inp = make_input([media], [media], str(MINI_TEMPLATE), policy)
    assert inp.template.id == "mini" and inp.gaps is None and inp.evidence_dir is None


def test_a_stray_file_in_the_session_directory_never_stands_in_for_a_product_template(
    tmp_path: Path,
) -> None:
    """A product's template_id of id syntax (all the server accepts) is the built-in or
    installed template; only a file name (``rider.yaml``) is looked for beside."""
    d = _write(tmp_path / "s", _metadata())
    (d / "traditional_life").write_text("- not a template\n", encoding="utf-8")
    shutil.copy(MINI_TEMPLATE, d / "rider.yaml")
    assert product_template_ref("traditional_life", d) == "traditional_life"
    assert product_template_ref("rider.yaml", d) == d / "rider.yaml"
    assert product_template_ref("elsewhere.yaml", d) == Path("elsewhere.yaml")
    policy = {
        "customer_name": "王芳",
        "customer_id_number": "11010519491231002X",
        "products": [
            {"product_name": "安康终身寿险", "product_type": "traditional", "premium": 12000,
             "payment_method": "年交", "payment_years": 10},
            {"product_name": "附加意外伤害保险", "product_type": "traditional", "premium": 600,
             "payment_method": "年交", "payment_years": 1, "insurance_years": 1,
             "template_id": "traditional_life"},
        ],
    }  # fmt: skip
    meta = _metadata(policy=policy)
    (d / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    inp = load_session_dir(d)
    assert len(inp.product_templates) == 1
    (own,) = inp.product_templates.values()
    assert own.id == "traditional_life" and own.title == inp.template.title
