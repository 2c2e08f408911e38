"""Shared inputs of the rule tests (test_rules, test_findings_context): the mini template
rendered for one customer, the default thresholds, and an alignment of its nodes."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date
from pathlib import Path

from inspection.idnumber import make_id
from inspection.policy import Policy
from inspection.rules import Finding, NodeCoverage, Thresholds
from inspection.templates import RenderedNode, load_template, render

MINI = Path(__file__).parent / "data" / "templates" / "mini.yaml"
TH = Thresholds()
NAME = "李明华"
ID = make_id(date(1968, 5, 12), "110105", 123)
SENTENCE = "本人已阅读保险条款、产品说明书和投保提示书，了解本产品的特点和保单利益的不确定性"


def mini_nodes() -> list[RenderedNode]:
    """The mini template for a 12,000 yuan term-life policy of NAME."""
    policy = Policy(
        customer_name=NAME, customer_id_number=ID, product_name="安康定期寿险", premium=12000
    )
    return render(load_template(MINI), policy)


def coverage(nodes: Iterable[RenderedNode], missing: Collection[str] = ()) -> list[NodeCoverage]:
    """Every node in order, 6 s apart, each answer affirmative; the nodes in ``missing`` are
    not found (similarity 0.1, no times)."""
    out = []
    for i, n in enumerate(nodes):
        start = 6.0 * i
        if n.id in missing:
            out.append(NodeCoverage(n, 0.1))
            continue
        answer = "affirmative" if n.requires_answer else None
        out.append(
            NodeCoverage(
                n,
                0.95,
                start,
                start + 4.0,
                n.text,
                answer,
                "好的" if answer else "",
                start + 4.5,
                start + 5.0,
            )
        )
    return out


def codes(findings: list[Finding]) -> list[str]:
    return sorted(f.code for f in findings)
