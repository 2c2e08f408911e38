"""Order rules of a script template: node categories and ``must_precede``.

Real scripts greet the customer and introduce the salesperson before asking for consent, so
"consent comes first" is really "consent comes before any product content". A node says so
with ``must_precede: product`` (every node of that category) or ``must_precede: [ids]``;
``order_critical: true`` keeps its old meaning (before every node that is not
order-critical, and listed first). ``inspection.templates`` validates and renders with these
helpers; ``inspection.rules.script`` reports ``script.out_of_order`` from the resolved ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

#: What a node is about; ``must_precede`` may name one of these.
CATEGORIES: tuple[str, ...] = ("opening", "product", "document", "closing", "other")


class OrderedNode(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def order_critical(self) -> bool: ...
    @property
    def precede_category(self) -> str | None: ...
    @property
    def precede_nodes(self) -> tuple[str, ...]: ...
    @property
    def line(self) -> int | None: ...


def parse_must_precede(value: Any) -> tuple[str | None, tuple[str, ...], str | None]:
    """(category, node ids, error) from the YAML value of ``must_precede``."""
    if isinstance(value, str):
        if value not in CATEGORIES:
            return None, (), f"must be a category ({', '.join(CATEGORIES)}) or a list of node ids"
        return value, (), None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        if len(set(value)) != len(value):
            return None, (), "lists a node twice"
        return None, tuple(value), None
    return None, (), "must be a category or a non-empty list of node ids"


def order_issues(nodes: Sequence[OrderedNode]) -> list[tuple[int | None, str, str]]:
    """(line, where, message) for every order rule that cannot hold as written."""
    out: list[tuple[int | None, str, str]] = []
    later = False
    for n in nodes:  # order-critical nodes form a prefix: before everything else
        if not n.order_critical:
            later = True
        elif later:
            out.append(
                (
                    n.line,
                    f"node {n.id}",
                    "order_critical nodes must all come before the other nodes",
                )
            )
    position = {n.id: i for i, n in enumerate(nodes)}
    for i, n in enumerate(nodes):
        where = f"node {n.id}"
        if n.order_critical and (n.precede_category or n.precede_nodes):
            out.append((n.line, where, "use either order_critical or must_precede, not both"))
        if n.precede_category:
            targets = [m for m in nodes if m.category == n.precede_category and m is not n]
            if not targets:
                out.append(
                    (n.line, where, f"must_precede: no node has category {n.precede_category}")
                )
            ahead = [m.id for m in targets if position[m.id] < i]
            if ahead:
                out.append(
                    (n.line, where, f"must_precede: {', '.join(ahead)} listed before this node")
                )
        for target in n.precede_nodes:
            if target == n.id:
                out.append((n.line, where, "must_precede: a node cannot precede itself"))
            elif target not in position:
                out.append((n.line, where, f"must_precede: unknown node {target!r}"))
            elif position[target] < i:
                out.append((n.line, where, f"must_precede: {target} is listed before this node"))
    return out


def resolve_must_precede(nodes: Sequence[OrderedNode]) -> dict[str, tuple[str, ...]]:
    """Node id -> ids of the (rendered) ``nodes`` it must start before."""
    ids = {n.id for n in nodes}
    out: dict[str, tuple[str, ...]] = {}
    for n in nodes:
        if n.order_critical:
            targets = [m.id for m in nodes if not m.order_critical]
        elif n.precede_category:
            targets = [m.id for m in nodes if m.category == n.precede_category and m is not n]
        else:
            targets = [t for t in n.precede_nodes if t in ids]
        out[n.id] = tuple(targets)
    return out
