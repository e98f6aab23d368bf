"""YAML for the config file, bounded and strict: what PyYAML's `safe_load` lets through.

* A key given twice in one mapping (a provider defined twice) is refused, naming both lines:
  `safe_load` keeps the last one and an account silently stops being watched.
* Aliases may not expand the document beyond `MAX_VALUES` values, nor refer to themselves:
  a 484-byte "billion laughs" file took 209 s and 8 GB to validate, because everything after
  the parser copies the expanded tree.
* Nesting deeper than `MAX_DEPTH` is refused (a config is a few levels deep).
* Numbers are YAML 1.2's: `1_000`, `3:10` (sexagesimal) and `017` (octal) stay text, which
  the config's own number rules then refuse or read as written, never as a surprise.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from alertd.text import printable

MAX_VALUES = 200_000
MAX_DEPTH = 64
_MERGE = "tag:yaml.org,2002:merge"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"

_INDENTATION_HINTS = (
    "mapping values are not allowed here",
    "expected <block end>",
    "did not find expected key",
    "did not find expected '-' indicator",
    "block mapping",
    "block sequence",
    "could not find expected ':'",
)


class YamlProblem(Exception):
    """A problem with the YAML itself, one line each (line numbers, never values)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 numbers (no `_`, no sexagesimal, no octal)."""

    yaml_implicit_resolvers = {  # noqa: RUF012  (PyYAML's own class-level registry)
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"""^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?
        |[-+]?[0-9]+[eE][-+]?[0-9]+
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)
_Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))


def parse(text: str) -> tuple[Any, list[str]]:
    """The document as Python data and its duplicate keys (reported with the config's other
    problems); YamlProblem when there is no document to check at all."""
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except RecursionError:
            raise YamlProblem([f"nested more than {MAX_DEPTH} levels deep"]) from None
        except yaml.MarkedYAMLError as exc:
            raise YamlProblem([_syntax(exc)]) from None
        except yaml.YAMLError:
            raise YamlProblem(["YAML syntax error"]) from None
        if root is None:
            return None, []
        inspection = _Inspection()
        fatal = inspection.check(root)
        if fatal:
            raise YamlProblem([*inspection.problems, fatal])
        try:
            return loader.construct_document(root), inspection.problems
        except yaml.MarkedYAMLError as exc:
            raise YamlProblem([_syntax(exc)]) from None
    finally:
        loader.dispose()


def _syntax(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = printable(exc.problem or "")
    context = exc.context or ""
    hint = ""
    if any(h in problem or h in context for h in _INDENTATION_HINTS):
        hint = " (check the indentation: keys of one mapping line up, items start with '- ')"
    return f"{where}YAML syntax error: {problem}{hint}"


class _Inspection:
    """One walk over the composed nodes before anything is built from them.

    Aliases make the node graph a DAG: each node's expanded size is computed once (memo), so
    the walk is linear in the file, whatever the alias fan-out.
    """

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.open: set[int] = set()
        self.problems: list[str] = []

    def check(self, root: Node) -> str | None:
        """The reason the document cannot be built, if any; duplicates go to `problems`."""
        try:
            self.visit(root, (), 0)
        except _Refused as exc:
            return str(exc)
        return None

    def visit(self, node: Node, path: tuple[str, ...], depth: int) -> int:
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if key in self.open:
            raise _Refused(f"line {node.start_mark.line + 1}: an alias refers to itself")
        if depth > MAX_DEPTH:
            raise _Refused(f"line {node.start_mark.line + 1}: nested more than {MAX_DEPTH} deep")
        self.open.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            for child in node.value:
                total += self.visit(child, path, depth + 1)
        elif isinstance(node, MappingNode):
            self.duplicates(node, path)
            for key_node, value_node in node.value:
                name = key_node.value if isinstance(key_node, ScalarNode) else "?"
                total += self.visit(key_node, path, depth + 1)
                total += self.visit(value_node, (*path, str(name)), depth + 1)
        self.open.discard(key)
        if total > MAX_VALUES:
            raise _Refused(
                f"line {node.start_mark.line + 1}: aliases expand the document beyond"
                f" {MAX_VALUES:,} values; refused"
            )
        self.sizes[key] = total
        return total

    def duplicates(self, node: MappingNode, path: tuple[str, ...]) -> None:
        first: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                continue
            ident = (key_node.tag, key_node.value)
            line = key_node.start_mark.line + 1
            if ident not in first:
                first[ident] = line
                continue
            where = ".".join(printable(p, 60) for p in path) or "top level"
            self.problems.append(
                f"line {first[ident]} and line {line}: {where}: '{printable(key_node.value, 60)}'"
                " is given twice; only the last would count, remove one"
            )


class _Refused(Exception):
    pass
