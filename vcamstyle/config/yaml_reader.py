"""YAML reading: syntax errors with positions, duplicate keys, the key path -> line map."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from vcamstyle.config.report import ConfigValidationError, _format_loc


def _scan_nodes(
    root: yaml.Node | None,
) -> tuple[dict[tuple[Any, ...], int], list[tuple[int, str]], bool]:
    """Walk the composed YAML: the 1-based line of every key path, duplicate-key and recursive-alias
    problems, and whether the document is cyclic (an anchor used inside itself)."""
    lines: dict[tuple[Any, ...], int] = {}
    problems: list[tuple[int, str]] = []
    done: set[int] = set()
    ancestors: set[int] = set()
    cyclic = False

    def walk(node: yaml.Node, loc: tuple[Any, ...]) -> None:
        nonlocal cyclic
        if id(node) in ancestors:
            cyclic = True
            line = node.start_mark.line + 1
            message = f"{_format_loc(loc)}: recursive YAML alias (an anchor used inside itself) (line {line})"
            problems.append((line, message))
            return
        if id(node) in done:  # an alias of a node walked already
            return
        done.add(id(node))
        ancestors.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in first_line:
                    problems.append(
                        (line, f"{_format_loc(loc + (key,))}: duplicate key (first at line {first_line[key]}; "
                               f"YAML would silently keep only the last) (line {line})")
                    )
                else:
                    first_line[key] = line
                    lines[loc + (key,)] = line
                walk(value_node, loc + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[loc + (index,)] = item.start_mark.line + 1
                walk(item, loc + (index,))
        ancestors.discard(id(node))

    if root is not None:
        walk(root, ())
    return lines, problems, cyclic


def _syntax_problem(err: yaml.MarkedYAMLError) -> str:
    """``YAML syntax error at line L, column C: <problem> (<context> at line ..)``, 1-based."""
    mark = err.problem_mark or err.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    text = f"YAML syntax error{where}: {err.problem or err.context or 'invalid YAML'}"
    if err.context and err.problem:
        context_mark = err.context_mark
        at = f" at line {context_mark.line + 1}, column {context_mark.column + 1}" if context_mark else ""
        text += f" ({err.context}{at})"
    return text


#: Nesting deeper than this is not a config file (the schema is three levels deep); PyYAML's composer
#: recurses once per level, so a 3,000-level document would end in a RecursionError.
MAX_DEPTH = 32
#: Values in the document with every alias expanded. A few hundred in a real config; an "alias
#: bomb" (each anchor listing the previous one ten times) reaches billions in a few hundred bytes.
MAX_EXPANDED_NODES = 20_000


def _check_depth(text: str, file: Path | str) -> None:
    """Refuse deep nesting before composing, from the parser's events (which need no recursion)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else None
                where = f" (line {line})" if line else ""
                raise ConfigValidationError(file, [f"nesting deeper than {MAX_DEPTH} levels{where}"],
                                            "a vcamstyle config is a few levels deep: check the indentation")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def expanded_size(root: yaml.Node | None, limit: int = MAX_EXPANDED_NODES) -> int:
    """How many nodes the document has with aliases expanded (counted once per node, memoised, so an
    alias bomb costs linear time); stops counting past ``limit``. Cycles count as one node."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a cycle (reported elsewhere) counts once
        total = 1
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        for child in children:
            total = min(limit + 1, total + size(child))
        sizes[id(node)] = total
        return total

    return size(root) if root is not None else 0


def _read_yaml(text: str, file: Path | str) -> tuple[Any, dict[tuple[Any, ...], int], list[tuple[int, str]]]:
    """Parse YAML safely: (data, key-path lines, duplicate-key problems).

    Syntax errors, recursive aliases, nesting deeper than ``MAX_DEPTH`` and documents that expand
    to more than ``MAX_EXPANDED_NODES`` values raise ``ConfigValidationError``."""
    try:
        _check_depth(text, file)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if expanded_size(root) > MAX_EXPANDED_NODES:
            raise ConfigValidationError(
                file, [f"the YAML expands to more than {MAX_EXPANDED_NODES} values through its aliases (&/*)"],
                "a vcamstyle config needs no aliases: write the values out")
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        raise ConfigValidationError(
            file, [_syntax_problem(err)], "check the indentation and quoting near that line"
        ) from err
    except yaml.YAMLError as err:
        raise ConfigValidationError(file, [f"YAML error: {err}"], "check the file is valid YAML") from err
    except RecursionError as err:  # a structure the checks above let through; never a traceback
        raise ConfigValidationError(file, ["the YAML is nested too deeply"], "check the indentation") from err
    lines, problems, cyclic = _scan_nodes(root)
    if cyclic:
        raise ConfigValidationError(file, [message for _, message in problems], "remove the self-referencing alias")
    return data, lines, problems


def _line_for(loc: tuple[Any, ...], lines: Mapping[tuple[Any, ...], int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
