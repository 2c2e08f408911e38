"""YAML parsed with the line of every mapping, key and list item, so that a template's
problems name their line; duplicate keys and nesting deeper than ``MAX_DEPTH`` are problems
too."""

from __future__ import annotations

from typing import Any

import yaml

from inspection.templates.format import TemplateError, TemplateIssue


class LineMap(dict[Any, Any]):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LineSeq(list[Any]):
    line: int = 0
    item_lines: list[int]


# A template is about 4 levels deep (nodes, a node, its list of answers). PyYAML composes and
# constructs nested collections by recursion, with no bound of its own: a file of 100,000
# "[" raised RecursionError (a traceback from `kesu template check`, a 500 from the template
# list when such a file sat in KESU_TEMPLATES_DIR).
MAX_DEPTH = 64


class _LineLoader(yaml.SafeLoader):  # type: ignore[misc]  # yaml has no type stubs here
    duplicates: list[TemplateIssue]
    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested deeper than {MAX_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    out = LineMap()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in out:
            loader.duplicates.append(TemplateIssue(line, str(key), "duplicate key"))
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> LineSeq:
    out = LineSeq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def parse_yaml(text: str, source: str) -> Any:
    loader = _LineLoader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        ctx = exc.context_mark
        if ctx is not None and mark is not None and ctx.line != mark.line:
            msg += f" (started at line {ctx.line + 1})"
        raise TemplateError(source, [TemplateIssue(line, "", f"invalid YAML: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise TemplateError(source, [TemplateIssue(None, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise TemplateError(source, loader.duplicates)
    return data
