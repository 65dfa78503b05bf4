"""Reading the project's YAML files (deck definitions, taxonomies, answer keys) with line numbers.

`yaml.safe_load` forgets where each value came from; a user who mistyped a key wants to be told on
which line. So the file is composed into a node tree once, the Python values are constructed from
that same tree, and the tree is kept to look up the line of any key or list item later. A reader
that interprets the nodes itself (the answer key) uses `read_text` and `compose_yaml` only: the
same decoding and the same `file:line: invalid YAML` messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flashcards.errors import ConfigError

PathItem = str | int


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


def read_text(path: str | Path) -> str:
    """The text of a UTF-8 file (BOM allowed); unreadable or undecodable files raise ConfigError."""
    shown = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", shown) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError("not UTF-8 text; save the file as UTF-8", shown, line) from None


def read_yaml(path: str | Path) -> YamlDocument:
    """Parse one YAML file; unreadable, undecodable or malformed files raise ConfigError."""
    return parse_yaml(read_text(path), str(path))


def compose_yaml(text: str, path: str) -> yaml.Node | None:
    """The node tree of `text` (None for an empty document); malformed YAML raises ConfigError."""
    with _invalid_yaml(path, text):
        return yaml.compose(text, Loader=yaml.SafeLoader)


def parse_yaml(text: str, path: str) -> YamlDocument:
    root = compose_yaml(text, path)
    _reject_duplicate_keys(root, path)
    if root is None:
        return YamlDocument(path, None, None)
    with _invalid_yaml(path):  # e.g. a tag that safe YAML does not construct
        data = yaml.constructor.SafeConstructor().construct_document(root)
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
        line = text.count("\n", 0, exc.position) + 1 if text is not None else None
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else "character"
        raise ConfigError(f"invalid YAML: unacceptable {what} ({exc.reason})", path, line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {' '.join(str(exc).split())}", path) from None


def _reject_duplicate_keys(node: yaml.Node | None, path: str) -> None:
    # PyYAML silently keeps the last of two equal keys; in a config file that hides a mistake.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    line = key.start_mark.line + 1
                    raise ConfigError(f"{key.value}: duplicate key", path, line)
                seen.add(key.value)
            _reject_duplicate_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _reject_duplicate_keys(item, path)


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
