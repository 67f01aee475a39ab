"""Bounds on what one YAML document may become, checked on the composed nodes before any value is built.

A small file can describe an enormous value: each alias repeats a whole subtree, so nine lines of
nine aliases each (the "billion laughs") stand for 9**9 strings, and building them copies until
memory runs out. A document can also nest deeper than Python's stack allows, or (through an anchor
inside its own alias) contain itself. These are refused here, with the line where it happens:

- `MAX_NESTING` levels of mappings and lists. libyaml stops at 1000 on its own, which is already
  past Python's default recursion limit. A Deployment nests about 10 levels, and even large
  CustomResourceDefinition schemas (two levels per nested field) stay far below 200, so 200 leaves
  room for any real manifest while keeping every recursive walk over the value (diff, apply) far
  from the limit.
- `MAX_ALIASED_NODES` values produced by aliases beyond the nodes written out. kubectl's YAML
  reader (go-yaml) refuses "excessive aliasing" by a ratio; a fixed count is simpler to explain,
  and 100,000 repeated values is far more than anchors are used for in manifests and settings.
- `MAX_EXPANDED_CHARACTERS` of scalar text (keys and values) once every alias is expanded. A few
  aliases of one long string stay under the count above yet stand for gigabytes: the parse shares
  the string, but anything that writes the value out (the JSON of an apply) copies it each time.
  The API server takes request bodies of at most 3 MiB (and etcd objects of 1.5 MiB), so 10 MiB is
  well above any manifest that could be applied, and far below what exhausts memory.
"""

from __future__ import annotations

import yaml

MAX_NESTING = 200
"""Levels of mappings and lists inside each other, the top one counting as 1."""
MAX_ALIASED_NODES = 100_000
"""Values an alias may repeat, summed over the document, beyond those written out once."""
MAX_EXPANDED_CHARACTERS = 10 * 1024 * 1024
"""Characters of scalar text (keys and values) in a document with every alias expanded."""


class RefusedDocument(yaml.constructor.ConstructorError):
    """A document that parses but is refused for what it would become.

    As a MarkedYAMLError, any handler of YAML errors names its line; `problem` reads "the document
    <predicate>", and `predicate` lets a caller put its own subject first ("document 2 <predicate>").
    """

    def __init__(self, predicate: str, mark: yaml.Mark | None) -> None:
        super().__init__(None, None, f"the document {predicate}", mark)
        self.predicate = predicate


def may_have_aliases(content: bytes | str) -> bool:
    """False when the text cannot hold an alias: that takes an anchor (`&`) and a reference (`*`).

    Most manifests have neither character, and this test costs far less than walking their nodes.
    """
    if isinstance(content, str):
        return "&" in content and "*" in content
    return b"&" in content and b"*" in content


def too_deep(mark: yaml.Mark | None) -> RefusedDocument:
    return RefusedDocument(
        f"nests mappings and lists more than {MAX_NESTING} levels deep, far deeper than any manifest or "
        "setting needs; look for runaway brackets or indentation",
        mark,
    )


def check_shape(root: yaml.Node, depth: int = 0) -> None:
    """Raises RefusedDocument when the document at `root` nests more than `MAX_NESTING` levels,
    contains itself, or would expand its aliases into more than `MAX_ALIASED_NODES` extra values or
    more than `MAX_EXPANDED_CHARACTERS` of text.

    `depth` is the number of collections `root` is inside of, when it is not a document's top.

    Linear in the nodes written out: a node met again through an alias is not walked again, its
    expanded size and height are remembered by identity. Too many values is the first complaint
    (it says more about a "billion laughs"); too much text is refused at the innermost mapping or
    list that holds it, so the line points at the aliases that repeat it.
    """
    shapes: dict[int, tuple[int, int, int]] = {}
    """id(node) -> (values it expands into, levels of collections below and including it, characters)"""
    open_nodes: set[int] = set()
    too_wide: list[yaml.Mark] = []
    """The start of the first (so innermost) collection found to hold too much text."""

    def visit(node: yaml.Node, depth: int) -> tuple[int, int, int]:
        """`depth` counts the collections that contain `node`."""
        known = shapes.get(id(node))
        if known is not None:
            if depth + known[1] > MAX_NESTING:
                raise too_deep(node.start_mark)
            return known
        if isinstance(node, yaml.ScalarNode):
            shapes[id(node)] = shape = (1, 0, len(node.value))
            return shape
        if id(node) in open_nodes:
            raise RefusedDocument(
                "has an alias that refers to itself (to a mapping or list that contains it); "
                "remove the cycle",
                node.start_mark,
            )
        if depth >= MAX_NESTING:
            raise too_deep(node.start_mark)
        open_nodes.add(id(node))
        children: list[yaml.Node] = (
            [part for pair in node.value for part in pair]
            if isinstance(node, yaml.MappingNode)
            else node.value
        )
        size, height, characters = 1, 0, 0
        for child in children:
            child_size, child_height, child_characters = visit(child, depth + 1)
            size += child_size
            height = max(height, child_height)
            characters += child_characters
        if characters > MAX_EXPANDED_CHARACTERS and not too_wide:
            too_wide.append(node.start_mark)
        open_nodes.discard(id(node))
        shapes[id(node)] = shape = (size, height + 1, characters)
        return shape

    expanded, _, _ = visit(root, depth)
    if expanded - len(shapes) > MAX_ALIASED_NODES:
        raise RefusedDocument(
            f"expands its aliases into more than {MAX_ALIASED_NODES:,} values (an alias bomb, such as "
            "'billion laughs'); write the repeated values out or use fewer aliases",
            root.start_mark,
        )
    if too_wide:
        raise RefusedDocument(
            f"expands its aliases into more than {MAX_EXPANDED_CHARACTERS // 2**20} MiB of text (an alias "
            "bomb; the API server takes at most 3 MiB in a request); write the repeated values out or use "
            "fewer aliases",
            too_wide[0],
        )
