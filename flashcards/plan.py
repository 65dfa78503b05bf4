"""Build plans: what a build reads and writes, and the checks made on them before anything is read.

A deck definition (`decks/*.yaml`, see `flashcards.deckdef`) or ad-hoc inputs (`flashcards build
-i PATH -o OUT.apkg`) both become a `BuildPlan`, which `flashcards.build` carries out.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flashcards import identity
from flashcards.anki.notes import CARD_KINDS
from flashcards.anki.state import DeckState
from flashcards.buildcache import default_cache_path
from flashcards.deckdef import DeckDefinition, is_valid_deck_name
from flashcards.errors import BuildError, ConfigError
from flashcards.inputfile import file_key, file_keys
from flashcards.parse import DEFAULT_MAX_BYTES, find_digest_files

DEFAULT_DECK_NAME = "AI Papers"
DEFAULT_DECKS_DIR = Path("decks")


@dataclass(frozen=True)
class BuildPlan:
    name: str  # Anki deck name
    inputs: tuple[Path, ...]  # digest files or directories
    output: Path
    state: Path
    cards: tuple[str, ...] = CARD_KINDS
    subdecks: str | None = None  # None, "month" or "date"
    tags: tuple[str, ...] = ()
    answers: Path | None = None
    taxonomy: Path | None = None
    unsure_threshold: float | None = None
    shuffle: bool = True  # options in a fixed per-note order rather than the digest's
    #: Summary fields that become cards; None: the deck's default, which its state records (a
    #: new deck's default leaves out the topic; a deck first built before that keeps all six).
    fields: tuple[str, ...] | None = None
    max_bytes: int = DEFAULT_MAX_BYTES  # digest files larger than this are an error
    identity: str | None = None  # the deck's identity namespace, to pin it; None → from the state
    definition: Path | None = None  # the deck definition it comes from; None for an ad-hoc build
    lines: Mapping[str, int] = dataclasses.field(default_factory=dict, compare=False)  # messages
    delta: Path | None = None  # also write the notes new or changed in this build here
    origin: str | None = None  # where the deck comes from, for its description in Anki
    cache: Path | None = None  # what the last build computed (see flashcards.buildcache); None: off


def default_state_path(output: str | Path) -> Path:
    """Where an ad-hoc build keeps its state: beside the package, `<stem>.state.json` (the same
    naming as a deck definition's state)."""
    output = Path(output)
    return output.with_name(f"{output.stem}.state.json")


def plan_for_definition(definition: DeckDefinition) -> BuildPlan:
    return BuildPlan(
        name=definition.name,
        inputs=tuple(definition.source_files()),
        output=definition.output,
        state=definition.state,
        cards=definition.cards,
        subdecks=definition.subdecks,
        tags=definition.tags,
        answers=definition.answers,
        taxonomy=definition.taxonomy,
        unsure_threshold=definition.unsure_threshold,
        shuffle=definition.shuffle,
        fields=definition.fields,
        identity=definition.identity,
        definition=definition.path,
        lines=definition.lines,
        delta=definition.delta,
        origin=f"the deck definition {definition.path.name}",
        cache=definition.cache,
    )


def plan_adhoc(
    inputs: Iterable[str | Path],
    output: str | Path,
    *,
    deck: str | None = None,
    answers: str | Path | None = None,
    state: str | Path | None = None,
    taxonomy: str | Path | None = None,
    unsure_threshold: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    identity_setting: str | None = None,
    delta: str | Path | None = None,
    cache: bool = True,
) -> BuildPlan:
    """An ad-hoc build; `identity_setting` pins the deck's identity namespace (as `--identity`:
    the namespace recorded in a lost state, or "legacy")."""
    inputs = list(inputs)
    if any(str(path) == "-" for path in inputs):
        # A deck's next build reads its digests again to keep notes and state in step.
        raise ConfigError(
            "stdin is no input of a deck (its next build must read the same digests again): "
            "save the digest to a file and give that (flashcards parse reads stdin)",
            "-",
        )
    output = Path(output)
    if output.suffix.lower() != ".apkg":
        # Anki only imports packages by their suffix; a bare name is usually a mistyped folder.
        raise ConfigError("the output must be an .apkg file, e.g. out/papers.apkg", output)
    state_path = Path(state) if state is not None else default_state_path(output)
    namespace = None
    if identity_setting is not None:
        try:
            namespace = identity.namespace_from_setting(identity_setting)
        except ValueError as exc:
            raise ConfigError(f"--identity: {exc}") from None
    return BuildPlan(
        name=deck or DEFAULT_DECK_NAME,
        inputs=tuple(Path(p) for p in inputs),
        output=output,
        state=state_path,
        answers=Path(answers) if answers is not None else None,
        taxonomy=Path(taxonomy) if taxonomy is not None else None,
        unsure_threshold=unsure_threshold,
        max_bytes=max_bytes,
        identity=namespace,
        delta=_delta_path(delta, output),
        origin=_origin(inputs),
        cache=default_cache_path(state_path) if cache else None,
    )


def _delta_path(delta: str | Path | None, output: Path) -> Path | None:
    if delta is None:
        return None
    delta = Path(delta)
    if delta.suffix.lower() != ".apkg":
        raise ConfigError("the delta package must be an .apkg file, e.g. out/today.apkg", delta)
    if os.path.abspath(delta) == os.path.abspath(output):
        raise ConfigError("the delta package must not be the deck's own output", delta)
    return delta


def _origin(inputs: Iterable[str | Path]) -> str:
    # Names, not full paths: the description must not depend on where the checkout lives.
    names = sorted({Path(p).name or str(p) for p in inputs})
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"digests in {shown}"


def check_paths(plans: Sequence[BuildPlan]) -> None:
    """Refuse a build whose files overlap, before anything is read or written: every package and
    state is written by one deck only (two decks sharing a state would wipe each other's notes
    from it), and none of them is a file the build reads (a digest, answer key or taxonomy)."""
    written: dict[str, tuple[BuildPlan, str]] = {}
    for plan in plans:
        for role, path in _written_by(plan):
            other = written.get(file_key(path))
            if other is not None:
                raise _overlap(plan, role, f"is also the {_role(*other)}")
            written[file_key(path)] = (plan, role)
    for plan in plans:
        read = [(path, "an input digest") for path in _input_files(plan.inputs)]
        read += [(path, "the answer key") for path in (plan.answers,) if path is not None]
        read += [(path, "the taxonomy") for path in (plan.taxonomy,) if path is not None]
        keys = file_keys(path for path, _ in read)
        for (path, what), key in zip(read, keys, strict=True):
            target = written.get(key)
            if target is not None:
                raise _overlap(target[0], target[1], f"is {what} of {_name(plan)} ({path})")
        if plan.cache is not None:
            whats = [what for _, what in read]
            _check_cache(plan, plan.cache, written, zip(keys, whats, strict=True))


def _check_cache(
    plan: BuildPlan,
    cache: Path,
    written: dict[str, tuple[BuildPlan, str]],
    read: Iterable[tuple[str, str]],
) -> None:
    """The cache is a folder the build replaces files in: it must not be a file the build
    writes or reads (`read`: what it reads, by `file_key`; `cache: deck.apkg` would turn the
    package's place into a folder)."""
    key = file_key(cache)
    other = written.get(key)
    what = f"the {_role(*other)}" if other is not None else None
    what = what or next((w for read_key, w in read if read_key == key), None)
    if what is None:
        return
    message = f"cache: {str(cache)!r} is also {what}; nothing was written"
    raise ConfigError(message, plan.definition or cache, plan.lines.get("cache"))


def _written_by(plan: BuildPlan) -> list[tuple[str, Path]]:
    roles = [("output", plan.output), ("state", plan.state), ("delta", plan.delta)]
    return [(role, path) for role, path in roles if path is not None]


def written_paths(plans: Sequence[BuildPlan]) -> list[Path]:
    return [path for plan in plans for _role, path in _written_by(plan)]


def _input_files(inputs: Iterable[Path]) -> list[Path]:
    files = []
    for path in inputs:
        if str(path) == "-":
            continue
        files.extend(find_digest_files(path) if path.is_dir() else [path])
    return files


def _name(plan: BuildPlan) -> str:
    return str(plan.definition) if plan.definition is not None else "this build"


_OPTIONS = {"output": "-o", "state": "--state", "delta": "--delta"}


def _role(plan: BuildPlan, role: str) -> str:
    option = _OPTIONS[role]
    return f"{role} of {plan.definition}" if plan.definition is not None else f"{option} file"


def _overlap(plan: BuildPlan, role: str, what: str) -> ConfigError:
    path = dict(_written_by(plan))[role]
    if plan.definition is None:
        option = _OPTIONS[role]
        return ConfigError(f"{option} {str(path)!r} {what}; nothing was written", path)
    return ConfigError(
        f"{role}: {str(path)!r} {what}; nothing was written",
        plan.definition,
        plan.lines.get(role),
    )


def check_plan(plan: BuildPlan) -> None:
    """What is wrong with the plan itself, before any input is read."""
    if not is_valid_deck_name(plan.name):  # ad-hoc names (--deck) are not checked elsewhere
        raise BuildError(f"invalid deck name {plan.name!r}", plan.output)
    if plan.output.is_dir():
        raise BuildError(
            "the output is a directory; give a file name such as deck.apkg", plan.output
        )
    if plan.delta is not None and plan.delta.is_dir():
        raise BuildError(
            "the delta output is a directory; give a file name such as today.apkg", plan.delta
        )


def plan_namespace(plan: BuildPlan, previous: DeckState) -> str:
    """The deck's identity namespace: the one its state records, else (first build) the one
    derived from its name and package file name; `plan.identity` pins it."""
    recorded = previous.namespace
    if plan.identity is None:
        if recorded is not None:
            return recorded
        return identity.deck_namespace(plan.name, plan.output.name)
    if recorded is not None and recorded != plan.identity and previous.notes:
        # Switching would give every note a new GUID: duplicates of the whole deck in Anki.
        raise ConfigError(
            f"identity {_describe_namespace(plan.identity)} differs from the one this deck's "
            f"notes were built with, {_describe_namespace(recorded)} (recorded in the state); "
            "remove the identity setting, or set it to the recorded one",
            plan.state,
        )
    return plan.identity


def _describe_namespace(namespace: str) -> str:
    return identity.LEGACY_SETTING if namespace == identity.LEGACY_NAMESPACE else repr(namespace)
