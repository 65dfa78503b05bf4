"""Reading the project's YAML files (deck definitions, taxonomies, answer keys) with line numbers.

`yaml.safe_load` forgets where each value came from; a user who mistyped a key wants to be told on
which line. So the file is composed into a node tree once, the Python values are constructed from
that same tree, and the tree is kept to look up the line of any key or list item later. A reader
that interprets the nodes itself (the answer key) uses `read_text` and `compose_yaml` only: the
same decoding and the same `file:line: invalid YAML` messages.

Hostile files end in a clean error, never a hang or a traceback: files over a size limit are
refused before parsing, nesting deeper than `MAX_DEPTH` is refused from the (iterative) event
stream before the (recursive) composer sees it, aliases are walked once each (an alias "bomb"
shares nodes, so a walk that follows every alias would be exponential), and a document whose
aliases would add more than `MAX_ALIAS_EXPANSION` values, or that contains itself, is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flashcards.errors import ConfigError
from flashcards.inputfile import NotARegularFile, open_regular_file

PathItem = str | int

#: Deck definitions and taxonomies are a few KB; 1 MiB is far beyond any real one.
MAX_CONFIG_BYTES = 1024 * 1024
#: Answer keys grow with the archive (an entry per paper, comments per question): 16 MiB is
#: years of daily digests.
MAX_ANSWER_KEY_BYTES = 16 * 1024 * 1024
#: Real files nest 3 or 4 deep; PyYAML's composer and constructor recurse once per level.
MAX_DEPTH = 100
#: Values that aliases may add to a document once expanded (what a consumer iterating the data
#: would visit beyond the nodes written out): real files use few aliases, if any.
MAX_ALIAS_EXPANSION = 1_000_000

# libyaml's parser is many times faster than the pure-Python one (answer keys grow to MBs); both
# give the same nodes and the same line numbers.
_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PYTHON_RETRY_CHARS = MAX_CONFIG_BYTES


@dataclass(frozen=True)
class YamlDocument:
    path: str  # as given by the caller, for messages
    data: Any  # what yaml.safe_load would return (None for an empty file)
    root: yaml.Node | None

    def _node(self, keys: tuple[PathItem, ...], *, key_node: bool) -> yaml.Node | None:
        node = self.root
        for depth, item in enumerate(keys):
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(item):
                        last = depth == len(keys) - 1
                        node = k if last and key_node else v
                        break
                else:
                    return None
            elif isinstance(node, yaml.SequenceNode) and isinstance(item, int):
                if not 0 <= item < len(node.value):
                    return None
                node = node.value[item]
            else:
                return None
        return node

    def line(self, *keys: PathItem) -> int | None:
        """1-based line of the value at `keys` (mapping keys and list indexes), if known."""
        node = self._node(keys, key_node=False)
        return node.start_mark.line + 1 if node is not None else None

    def key_line(self, *keys: PathItem) -> int | None:
        """1-based line of the mapping key at the end of `keys` (for 'unknown key' messages)."""
        node = self._node(keys, key_node=True)
        return node.start_mark.line + 1 if node is not None else None

    def error(self, message: str, *keys: PathItem, at_key: bool = False) -> ConfigError:
        line = self.key_line(*keys) if at_key else self.line(*keys)
        return ConfigError(message, self.path, line)

    def check_keys(
        self,
        mapping: Mapping[Any, Any],
        allowed: Sequence[str],
        *keys: PathItem,
        noun: str = "key",
        label: str | None = None,
    ) -> None:
        """Refuse the first key of `mapping` (the value at `keys`) that is not one of `allowed`:
        "LABEL: KEY: unknown key (expected one of: …)" at the key's own line, where LABEL is
        `keys` joined by ": " unless given."""
        for key in mapping:
            if key not in allowed:
                where = f"{label}: " if label else "".join(f"{k}: " for k in keys)
                raise self.error(
                    f"{where}{key}: unknown {noun} (expected one of: {', '.join(allowed)})",
                    *keys,
                    key,
                    at_key=True,
                )


def read_text(path: str | Path, *, max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """The text of a UTF-8 file (BOM allowed); unreadable, undecodable, oversized files and
    anything that is not a regular file (a FIFO would block forever) raise ConfigError."""
    shown = str(path)
    try:
        with open_regular_file(path) as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", shown) from None
    except NotARegularFile as exc:
        raise ConfigError(str(exc), shown) from None
    if len(raw) > max_bytes:
        line = raw.count(b"\n", 0, max_bytes) + 1
        raise ConfigError(f"file is larger than the {max_bytes} byte limit", shown, line)
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise ConfigError("UTF-32 text; save the file as UTF-8", shown, 1)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError("UTF-16 text; save the file as UTF-8", shown, 1)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError("not UTF-8 text; save the file as UTF-8", shown, line) from None


def read_yaml(path: str | Path, *, max_bytes: int = MAX_CONFIG_BYTES) -> YamlDocument:
    """Parse one YAML file; unreadable, undecodable or malformed files raise ConfigError."""
    return parse_yaml(read_text(path, max_bytes=max_bytes), str(path))


def compose_yaml(text: str, path: str) -> yaml.Node | None:
    """The node tree of `text` (None for an empty document).

    Malformed YAML, nesting deeper than MAX_DEPTH, a value containing itself, or aliases adding
    more than MAX_ALIAS_EXPANSION values raise ConfigError. Nodes are shared through aliases, so
    walk the tree once per node (the tree never has a cycle).
    """
    with _invalid_yaml(path, text):
        try:
            aliases = _check_depth(text, path, _LOADER)
            root = yaml.compose(text, Loader=_LOADER)
        except yaml.YAMLError:
            if _LOADER is yaml.SafeLoader or len(text) > _PYTHON_RETRY_CHARS:
                raise
            # libyaml refuses a few things PyYAML reads (`[?, B]`), and PyYAML words its errors
            # more precisely ("but got ':'"): a file this small gets PyYAML's verdict.
            aliases = _check_depth(text, path, yaml.SafeLoader)
            root = yaml.compose(text, Loader=yaml.SafeLoader)
    if aliases:  # else every node is distinct: nothing expands
        _check_expansion(root, path)
    return root


def _check_depth(text: str, path: str, loader: type) -> bool:
    """Refuse nesting deeper than MAX_DEPTH; whether the document holds an alias. The event
    stream is produced iteratively; the composer would recurse once per level."""
    depth = 0
    aliases = False
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            aliases = True
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                line = mark.line + 1 if mark is not None else None
                raise ConfigError(f"nested more than {MAX_DEPTH} deep", path, line)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return aliases


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node | None, path: str) -> None:
    """Refuse a node that contains itself (`&a [*a]`) or a tree whose aliases add more than
    MAX_ALIAS_EXPANSION values; each shared node is visited once (iterative post-order)."""
    if root is None:
        return
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            on_path.discard(id(node))
            total = 1 + sum(size[id(child)] for child in _children(node))
            # `size` holds every distinct node seen so far: what the file writes out.
            if total > len(size) + 1 + MAX_ALIAS_EXPANSION:
                raise ConfigError(
                    f"aliases expand to more than {MAX_ALIAS_EXPANSION} extra values",
                    path,
                    node.start_mark.line + 1,
                )
            size[id(node)] = total
            continue
        if id(node) in size:
            continue
        on_path.add(id(node))
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise ConfigError(
                    "a value contains itself (recursive alias)", path, child.start_mark.line + 1
                )
            if id(child) not in size:
                stack.append((child, False))


class _Constructor(yaml.constructor.SafeConstructor):
    """PyYAML's safe constructor, except that a value YAML reads as a date but no calendar has
    (`since: 2025-02-30`) is an error at its line instead of a ValueError (a traceback)."""

    def construct_impossible_date(self, node: yaml.Node) -> Any:
        try:
            return self.construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a date ({exc})", node.start_mark
            ) from None


# (The stubs type add_constructor's callback for loaders, not constructors.)
_Constructor.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:timestamp", _Constructor.construct_impossible_date
)


def parse_yaml(text: str, path: str) -> YamlDocument:
    root = compose_yaml(text, path)
    _reject_duplicate_keys(root, path)
    if root is None:
        return YamlDocument(path, None, None)
    with _invalid_yaml(path):  # e.g. a tag that safe YAML does not construct
        data = _Constructor().construct_document(root)
    return YamlDocument(path, data, root)


@contextlib.contextmanager
def _invalid_yaml(path: str, text: str | None = None) -> Iterator[None]:
    """PyYAML's errors as `path:line: invalid YAML: problem` (`text`: to place reader errors)."""
    try:
        yield
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "malformed YAML"
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"invalid YAML: {problem}", path, line) from None
    except yaml.reader.ReaderError as exc:
        # Its str() spans two lines; errors are one line, `path:line: message`.
        line = None
        if text is not None and isinstance(exc.character, int):
            # libyaml counts the position in bytes, PyYAML in characters: find the character.
            position = text.find(chr(exc.character))
            line = text.count("\n", 0, position) + 1 if position >= 0 else None
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else "character"
        raise ConfigError(f"invalid YAML: unacceptable {what} ({exc.reason})", path, line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {' '.join(str(exc).split())}", path) from None


def _reject_duplicate_keys(root: yaml.Node | None, path: str) -> None:
    # PyYAML silently keeps the last of two equal keys; in a config file that hides a mistake.
    # Iterative, and each node once: an alias shares its node, which needs checking only once.
    seen_nodes: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, _value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        line = key.start_mark.line + 1
                        raise ConfigError(f"{key.value}: duplicate key", path, line)
                    seen.add(key.value)
        stack.extend(reversed(_children(node)))


def describe(value: Any) -> str:
    """A short, YAML-flavoured rendering of a wrong value for an error message."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
