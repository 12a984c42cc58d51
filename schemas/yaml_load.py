"""YAML for the operators' files (rules, silences, roster, connectors): safe tags, bounded aliases.

Anchors and aliases are legitimate YAML (a shared ``annotations:`` block), but
an alias shares a node, and everything that walks the document afterwards
(duplicate-key and line lookups, validation) walks the expansion: ten levels
of ten aliases each is 10^10 nodes from about 400 bytes. The document is
therefore composed once, its expanded size is counted over the shared node
graph (linear in the distinct nodes: each node's size is computed once), and a
document over ``MAX_NODES`` is refused before anything expands it. A
recursive alias (``&a [*a]``) has no finite expansion and is refused too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

MAX_NODES = 100_000  # a large rules file (hundreds of rules) expands to a few thousand


class YamlTooLarge(yaml.YAMLError):
    """The document would expand past ``MAX_NODES`` nodes, or without end, or nests too deeply.

    A ``yaml.YAMLError``, so callers that report syntax errors report this one too.
    """

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def expanded_size(root: yaml.Node, limit: int = MAX_NODES) -> int:
    """Nodes in the document with every alias expanded; raises past ``limit`` or on a cycle."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # being counted: reaching one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > limit:
                raise YamlTooLarge(
                    f"aliases expand the document to more than {limit:,} nodes "
                    f"(line {node.start_mark.line + 1}); write the values out instead"
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise YamlTooLarge(
                f"recursive alias at line {node.start_mark.line + 1}: it never ends when expanded"
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def load_bounded(text: str, limit: int = MAX_NODES) -> tuple[yaml.Node | None, Any]:
    """The composed node tree (for line numbers) and the data of one YAML document.

    Raises ``yaml.YAMLError`` on a syntax error and ``YamlTooLarge`` on a
    document that is too big once expanded.
    """
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        expanded_size(root, limit)
        return root, loader.construct_document(root)
    except RecursionError:
        # PyYAML composes recursively: thousands of nested brackets exhaust the stack.
        raise YamlTooLarge("nested too deeply") from None
    finally:
        loader.dispose()
