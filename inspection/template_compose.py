"""Scripts of combined sales (主险 + 附加险): which template node is said for which product.

A template node with ``product: each`` (or ``main`` / ``riders``) is a *product node*: it is
said once per product it applies to, with that product's values in its placeholders. Every
other node is *shared*: said once for the whole sale (consent, reminder, identity, documents,
closing). A run of consecutive product nodes is a *block*; the block is said product after
product (the main product first). A product may name its own template (``template_id``): its
product nodes then replace the block for that product, so a session's script is composed of
the session template's shared nodes and one template per product.

``inspection.templates.render`` fills the placeholders; this module only plans the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from inspection.policy import Policy, Product

if TYPE_CHECKING:
    from inspection.templates import Template, TemplateNode

#: Values of a node's ``product`` key.
PRODUCT_SCOPES: tuple[str, ...] = ("each", "main", "riders")
# Nodes of a product's own template that are never its product nodes, when that template does
# not mark any (an ordinary one-product template used for a rider).
_SHARED_CATEGORIES = ("opening", "document", "closing")


@dataclass(frozen=True)
class PlannedNode:
    """A template node placed in the session's script, for one product or shared."""

    node: TemplateNode  # id already made unique (``rider1.premium``), must_precede mapped
    product: Product | None  # None: a shared node (placeholders: the main product's values)
    source: Template  # the template the node comes from


def rendered_id(node_id: str, product: Product | None, policy: Policy) -> str:
    """The node's id in the session script: the main product's and shared nodes keep their
    template id, other products' copies are prefixed with the product key."""
    if product is None or product.key == policy.main_key:
        return node_id
    return f"{product.key}.{node_id}"


def product_nodes(template: Template) -> list[TemplateNode]:
    """The nodes of ``template`` said per product: those with ``product:``, or, in a template
    that marks none, every node that is not about the session as a whole (consent, reminder,
    order rules, documents, opening and closing)."""
    marked = [n for n in template.nodes if n.product is not None]
    if marked:
        return marked
    return [
        n
        for n in template.nodes
        if n.role is None
        and not n.order_critical
        and n.document is None
        and not n.precede_category
        and not n.precede_nodes
        and n.category not in _SHARED_CATEGORIES
        and n.required
    ]


def _fits(node: TemplateNode, product: Product) -> bool:
    if node.product == "main" and product.role != "main":
        return False
    if node.product == "riders" and product.role != "rider":
        return False
    return node.applies_to(product.product_type)


def plan(template: Template, policy: Policy, own: dict[str, Template]) -> list[PlannedNode]:
    """The session's nodes in speaking order. ``own``: product key -> that product's own
    template (products not in it use the blocks of ``template``)."""
    types = {p.product_type for p in policy.products}
    out: list[PlannedNode] = []
    placed: set[str] = set()  # products whose own template's nodes are placed

    def place_block(block: Sequence[TemplateNode]) -> None:
        for p in policy.products:
            source, nodes = template, list(block)
            if p.key in own:
                if p.key in placed:
                    continue
                placed.add(p.key)
                source, nodes = own[p.key], product_nodes(own[p.key])
            for n in nodes:
                if n.product is None or _fits(n, p):
                    out.append(PlannedNode(n, p, source))

    nodes = list(template.nodes)
    i = 0
    blocks = 0
    while i < len(nodes):
        n = nodes[i]
        if n.product is None:
            if not n.product_types or types & set(n.product_types):
                out.append(PlannedNode(n, None, template))
            i += 1
            continue
        j = i
        while j < len(nodes) and nodes[j].product is not None:
            j += 1
        place_block(nodes[i:j])
        blocks += 1
        i = j
    missing = [p for p in policy.products if p.key in own and p.key not in placed]
    if missing:
        # No block in the session template: the products' own nodes go before the first
        # document or closing node (the product is explained before the signing).
        at = next(
            (
                k
                for k, pn in enumerate(out)
                if pn.node.document is not None or pn.node.category in ("document", "closing")
            ),
            len(out),
        )
        extra: list[PlannedNode] = []
        for p in missing:
            extra += [
                PlannedNode(n, p, own[p.key])
                for n in product_nodes(own[p.key])
                if n.product is None or _fits(n, p)
            ]
        out[at:at] = extra
    return _unique_ids(out, policy)


def _unique_ids(planned: list[PlannedNode], policy: Policy) -> list[PlannedNode]:
    """Give each placed node its session id and map ``must_precede`` node lists onto the
    copies: a product node's target is the copy for the same product when there is one."""
    ids = [rendered_id(pn.node.id, pn.product, policy) for pn in planned]
    by_base: dict[str, list[tuple[str, str | None]]] = {}
    for pn, rid in zip(planned, ids, strict=True):
        by_base.setdefault(pn.node.id, []).append((rid, pn.product.key if pn.product else None))
    out = []
    for pn, rid in zip(planned, ids, strict=True):
        key = pn.product.key if pn.product else None
        targets: list[str] = []
        for t in pn.node.precede_nodes:
            copies = by_base.get(t, [])
            same = [c for c, k in copies if k == key]
            targets += same or [c for c, _ in copies]
        node = replace(pn.node, id=rid, precede_nodes=tuple(targets))
        out.append(PlannedNode(node, pn.product, pn.source))
    return out
