"""Script templates (话术模板): the versioned YAML format, loading with line-numbered validation,
rendering against policy data, and spoken-duration estimates. The format is in docs/templates.md;
the built-in templates are the ``*.yaml`` files of this directory.

Modules, each importing only those above it: ``format`` (records, problems, placeholders),
``yaml_lines`` (YAML with line numbers), ``validation`` (YAML to a Template), ``loading``
(built-in, installed and file templates), ``rendering`` (a template for one policy, combined
sales composed by ``inspection.template_compose``), ``estimate`` (spoken duration). The names
below are re-exported: ``from inspection.templates import X`` is the API.
"""

from inspection.templates.estimate import (
    DurationEstimate,
    NodeDuration,
    ProductDuration,
    estimate_duration,
    spoken_chars,
)
from inspection.templates.format import (
    DOCUMENTS,
    PLACEHOLDERS,
    ROLES,
    SAMPLE_POLICY,
    SCHEMA,
    SPEAKERS,
    Document,
    RenderedNode,
    Role,
    Speaker,
    Template,
    TemplateError,
    TemplateIssue,
    TemplateNode,
)
from inspection.templates.loading import (
    BUILTIN_DIR,
    TEMPLATES_DIR_ENV,
    builtin_template_ids,
    builtin_templates,
    load_template,
    named_templates,
    template_dirs,
    template_ids,
    template_ref,
)
from inspection.templates.rendering import render
from inspection.templates.validation import parse_template, playback_issues

__all__ = [
    "BUILTIN_DIR",
    "DOCUMENTS",
    "PLACEHOLDERS",
    "ROLES",
    "SAMPLE_POLICY",
    "SCHEMA",
    "SPEAKERS",
    "TEMPLATES_DIR_ENV",
    "Document",
    "DurationEstimate",
    "NodeDuration",
    "ProductDuration",
    "RenderedNode",
    "Role",
    "Speaker",
    "Template",
    "TemplateError",
    "TemplateIssue",
    "TemplateNode",
    "builtin_template_ids",
    "builtin_templates",
    "estimate_duration",
    "load_template",
    "named_templates",
    "parse_template",
    "playback_issues",
    "render",
    "spoken_chars",
    "template_dirs",
    "template_ids",
    "template_ref",
]
