"""Rendering: a template filled with one policy's values, composed for a combined sale
(``inspection.template_compose`` plans the order; this fills the placeholders)."""

from __future__ import annotations

from inspection.policy import Policy
from inspection.template_compose import PlannedNode, plan
from inspection.template_order import resolve_must_precede
from inspection.templates.format import (
    RenderedNode,
    Template,
    TemplateError,
    TemplateIssue,
    placeholder_names,
)
from inspection.templates.loading import load_template


def render(
    template: Template,
    policy: Policy,
    product_templates: dict[str, Template] | None = None,
) -> list[RenderedNode]:
    """Fill placeholders from ``policy`` and drop nodes that do not apply to its products.

    A combined sale's script is composed (``inspection.template_compose``): product nodes are
    said once per product with that product's values; a product with its own ``template_id``
    takes its product nodes from that template (``product_templates`` by product key, else
    loaded with :func:`load_template`).
    """
    own = _own_templates(template, policy, product_templates)
    for p in policy.products:
        source = own.get(p.key, template)
        if p.product_type not in source.product_types:
            raise TemplateError(
                source.source or source.id,
                [
                    TemplateIssue(
                        None,
                        "product_types",
                        f"template {source.id} is for {', '.join(source.product_types)}, "
                        f"not {p.product_type}"
                        + ("" if p.role == "main" else f" (product {p.key}: {p.product_name})"),
                    )
                ],
            )
    planned = plan(template, policy, own)
    precede = resolve_must_precede([pn.node for pn in planned])
    several = len(policy.products) > 1
    out: list[RenderedNode] = []
    for pn in planned:
        out.append(_render_node(pn, policy, precede[pn.node.id], len(out), several))
    return out


def _own_templates(
    template: Template, policy: Policy, given: dict[str, Template] | None
) -> dict[str, Template]:
    """Product key -> the product's own template, for products that name one other than
    ``template``."""
    out: dict[str, Template] = {}
    for p in policy.products:
        if given and p.key in given:
            out[p.key] = given[p.key]
        elif p.template_id and p.template_id != template.id:
            out[p.key] = load_template(p.template_id)
    return {k: t for k, t in out.items() if t is not template}


def _render_node(
    pn: PlannedNode, policy: Policy, must_precede: tuple[str, ...], index: int, several: bool
) -> RenderedNode:
    node, product = pn.node, pn.product
    values = policy.placeholders(product.key if product else None)
    names = list(placeholder_names(node.text))
    unknown = [n for n in names if n not in values]
    if unknown:
        raise TemplateError(
            pn.source.source or pn.source.id,
            [TemplateIssue(node.line, f"node {node.id}", f"unknown placeholder {{{unknown[0]}}}")],
        )
    used = {n: values[n] for n in names}
    title = node.title
    if product is not None and several:
        title = f"{title}（{product.product_name}）"
    return RenderedNode(
        index=index,
        id=node.id,
        title=title,
        speaker=node.speaker,
        text=node.text.format_map(used),
        role=node.role,
        requires_answer=node.requires_answer,
        expected_answer=node.expected_answer,
        order_critical=node.order_critical,
        document=node.document,
        min_similarity=node.min_similarity,
        required=node.required,
        values=used,
        category=node.category,
        must_precede=must_precede,
        product=product.key if product else None,
        playback=node.playback,
    )
