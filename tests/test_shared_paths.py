"""A build refuses files that overlap (issue 9, item 5): two decks sharing a state, a state that
is a package, or a package or state that is one of the files the build reads."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from digest_writers import write_quiz_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flashcards.cli import main
from flashcards.inputfile import file_key, file_keys
from flashcards.model import Paper, Question

DAY = date(2025, 3, 4)


def _setup(tmp_path: Path) -> Path:
    """A folder with one digest (digests/day.txt) and an answer key (key.yaml)."""
    paper = Paper(
        title="Tiny Routers",
        arxiv_id="2503.00102",
        fields={"topic": "Routing in small models."},
        questions=(Question(1, "What is routed?", ("Tokens", "Pixels")),),
    )
    (tmp_path / "digests").mkdir()
    text = write_quiz_text(DAY, [(paper, "https://arxiv.org/abs/2503.00102")])
    (tmp_path / "digests" / "day.txt").write_text(text, encoding="utf-8")
    (tmp_path / "key.yaml").write_text('"2503.00102": [A]\n', encoding="utf-8")
    return tmp_path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _refused(root: Path, args: list[str]) -> str:
    before = _snapshot(root)
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert _snapshot(root) == before  # nothing written, nothing overwritten
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    return result.output.strip()


def _deck(root: Path, name: str, *lines: str) -> Path:
    path = root / f"{name}.yaml"
    body = "\n".join([f"name: {name}", "sources: [digests/*.txt]", *lines])
    path.write_text(body + "\n", encoding="utf-8")
    return path


def test_two_definitions_sharing_a_state_are_refused(tmp_path: Path) -> None:
    root = _setup(tmp_path)
    first = _deck(root, "first", "output: a.apkg", "state: shared.json")
    second = _deck(root, "second", "output: b.apkg", "state: shared.json")
    message = _refused(root, ["build", str(first), str(second)])
    assert message == (
        f"error: {second}:4: state: '{root}/shared.json' is also the state of {first}; "
        "nothing was written"
    )


def test_a_state_that_is_another_decks_package_is_refused(tmp_path: Path) -> None:
    root = _setup(tmp_path)
    first = _deck(root, "first", "output: a.apkg")
    second = _deck(root, "second", "output: b.apkg", "state: a.apkg")
    message = _refused(root, ["build", str(first), str(second)])
    assert message.startswith(f"error: {second}:4: state: '{root}/a.apkg' is also the output of")


def test_a_state_that_is_its_own_package_is_refused(tmp_path: Path) -> None:
    root = _setup(tmp_path)
    deck = _deck(root, "deck", "output: d.apkg", "state: d.apkg")
    message = _refused(root, ["build", str(deck)])
    assert message.startswith(f"error: {deck}:4: state: '{root}/d.apkg' is also the output of")


def test_adhoc_state_equal_to_the_output_is_refused(tmp_path: Path) -> None:
    root = _setup(tmp_path)
    out = str(root / "x.apkg")
    message = _refused(root, ["build", "-i", str(root / "digests"), "-o", out, "--state", out])
    assert message == f"error: {out}: --state '{out}' is also the -o file; nothing was written"


def test_a_state_named_through_a_link_or_dots_is_the_same_file(tmp_path: Path) -> None:
    """Two names of one file are one file: a symlink to the answer key, or the output spelled
    with "sub/..", is refused like the file itself."""
    root = _setup(tmp_path)
    (root / "sub").mkdir()
    link = root / "link.yaml"
    link.symlink_to(root / "key.yaml")
    base = ["build", "-i", str(root / "digests"), "-o", str(root / "x.apkg")]
    message = _refused(root, [*base, "--answers", str(root / "key.yaml"), "--state", str(link)])
    assert f"--state '{link}' is the answer key of this build" in message
    dotted = str(root / "sub" / ".." / "x.apkg")
    message = _refused(root, [*base, "--state", dotted])
    assert message.endswith(f"--state '{dotted}' is also the -o file; nothing was written")


@pytest.mark.parametrize("role", ["--state", "-o"])
def test_adhoc_output_or_state_that_is_an_input_is_refused(tmp_path: Path, role: str) -> None:
    root = _setup(tmp_path)
    digest = root / "digests" / "day.txt"
    args = ["build", "-i", str(root / "digests"), "-o", str(root / "x.apkg")]
    if role == "--state":
        args += ["--state", str(digest)]
        message = _refused(root, args)
        assert f"--state '{digest}' is an input digest of this build ({digest})" in message
    # An input given as a file, and the answer key.
    key = root / "key.yaml"
    args = ["build", "-i", str(digest), "-o", str(root / "x.apkg"), "--answers", str(key)]
    message = _refused(root, [*args, "--state", str(key)])
    assert f"--state '{key}' is the answer key of this build ({key})" in message


def test_definition_state_that_is_a_digest_or_the_key_is_refused(tmp_path: Path) -> None:
    root = _setup(tmp_path)
    deck = _deck(root, "deck", "state: digests/day.txt")
    message = _refused(root, ["build", str(deck)])
    assert message.startswith(f"error: {deck}:3: state: '{root}/digests/day.txt' is an input")
    deck = _deck(root, "deck", "answers: key.yaml", "state: ./key.yaml")
    message = _refused(root, ["build", str(deck)])
    assert f"deck.yaml:4: state: '{root}/key.yaml' is the answer key of {deck}" in message


@pytest.mark.parametrize("command", ["build", "check"])
def test_a_deck_built_alone_may_not_take_the_state_of_a_deck_beside_it(
    tmp_path: Path, command: str
) -> None:
    """`flashcards build decks/b.yaml` alone, b sharing a's state: b would take a's identity
    namespace (one GUID for both decks' notes: blank cards in Anki) and rewrite a's state."""
    root = _setup(tmp_path)
    first = _deck(root, "first", "output: a.apkg", "state: shared.json")
    result = CliRunner().invoke(main, ["build", str(first)])
    assert result.exit_code == 0, result.output
    second = _deck(root, "second", "output: b.apkg", "state: shared.json")
    expected = (
        f"error: {second}:4: state: '{root}/shared.json' is also the state of {first}; "
        "nothing was written"
    )
    if command == "build":
        assert _refused(root, ["build", str(second)]) == expected
    else:
        result = CliRunner().invoke(main, ["check", str(second)])
        assert result.exit_code == 2 and expected in result.output


def test_a_broken_definition_beside_does_not_block_a_build(tmp_path: Path) -> None:
    root = _setup(tmp_path)
    (root / "broken.yaml").write_text("name: [\n", encoding="utf-8")
    deck = _deck(root, "deck", "output: d.apkg")
    result = CliRunner().invoke(main, ["build", str(deck)])
    assert result.exit_code == 0, result.output


def test_separate_files_still_build(tmp_path: Path) -> None:
    root = _setup(tmp_path)
    first = _deck(root, "first", "output: a.apkg")
    second = _deck(root, "second", "output: b.apkg")
    result = CliRunner().invoke(main, ["build", str(first), str(second)])
    assert result.exit_code == 0, result.output
    assert (root / "first.state.json").is_file() and (root / "second.state.json").is_file()


def test_check_reports_a_shared_state_like_the_build(tmp_path: Path) -> None:
    root = _setup(tmp_path)
    first = _deck(root, "first", "output: a.apkg", "state: shared.json")
    second = _deck(root, "second", "output: b.apkg", "state: shared.json")
    result = CliRunner().invoke(main, ["check", str(first), str(second)])
    assert result.exit_code == 2
    assert f"error: {second}:4: state: '{root}/shared.json' is also the state of {first}" in (
        result.output
    )


def test_a_deck_whose_sources_glob_covers_its_own_files_builds_again(tmp_path: Path) -> None:
    # `sources: [digests/*]` matches whatever lands in digests/, the deck's own package, state
    # and delta included: they are what it writes, never what it reads, on every build (the
    # second build used to refuse the files the first one had written there).
    root = _setup(tmp_path)
    deck = root / "deck.yaml"
    deck.write_text(
        "name: D\nsources: ['digests/*']\noutput: digests/d.apkg\nstate: digests/d.json\n"
        "delta: digests/new.apkg\n",
        encoding="utf-8",
    )
    for _ in range(2):
        result = CliRunner().invoke(main, ["build", str(deck)])
        assert result.exit_code == 0, result.output
    assert (root / "digests" / "d.apkg").is_file() and (root / "digests" / "d.json").is_file()
    # A state named like a digest is still one the build reads, and is never overwritten.
    deck.write_text(
        "name: D\nsources: ['digests/*']\noutput: digests/d.apkg\nstate: digests/day.txt\n",
        encoding="utf-8",
    )
    assert "state: " in _refused(root, ["build", str(deck)])


@pytest.mark.parametrize(
    ("cache", "what"),
    [
        ("deck.apkg", "the output of"),
        ("deck.state.json", "the state of"),
        ("key.yaml", "the answer key"),
    ],
)
def test_a_cache_folder_on_a_file_the_build_writes_or_reads_is_refused(
    tmp_path: Path, cache: str, what: str
) -> None:
    root = _setup(tmp_path)
    deck = _deck(
        root,
        "deck",
        "output: deck.apkg",
        "state: deck.state.json",
        "answers: key.yaml",
        f"cache: {cache}",
    )
    CliRunner().invoke(main, ["build", str(deck), "--no-cache"], catch_exceptions=False)
    folders = sorted(p for p in root.rglob("*") if p.is_dir())
    message = _refused(root, ["build", str(deck)])
    assert message.startswith(f"error: {deck}:6: cache: '{root / cache}' is also {what}")
    assert sorted(p for p in root.rglob("*") if p.is_dir()) == folders


@pytest.mark.parametrize("role", ["state", "output"])
def test_a_deck_built_alone_may_not_put_its_cache_on_a_file_of_a_deck_beside_it(
    tmp_path: Path, role: str
) -> None:
    """Built alone before the deck beside it, the cache folder took the place of that deck's
    state (or package): every build of that deck then failed. Built together, both refuse."""
    root = _setup(tmp_path)
    first = _deck(root, "first", "output: a.apkg", "state: a.json")
    target = {"state": "a.json", "output": "a.apkg"}[role]
    second = _deck(root, "second", "output: b.apkg", "state: b.json", f"cache: {target}")
    expected = (
        f"error: {second}:5: cache: '{root / target}' is also the {role} of {first}; "
        "nothing was written"
    )
    assert _refused(root, ["build", str(second)]) == expected
    assert not (root / target).exists()


_NAMES = st.sampled_from(["a", "b", "c.txt", "..", "link", "loop"])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    paths=st.lists(st.lists(_NAMES, min_size=1, max_size=4), max_size=12),
    absolute=st.booleans(),
)
def test_many_files_are_named_as_one_at_a_time(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    paths: list[list[str]],
    absolute: bool,
) -> None:
    """`file_keys` (a folder's realpath worked out once for its files) names every file as
    `file_key` does: through links to files and folders, `..`, missing files and link loops."""
    root = tmp_path_factory.mktemp("tree")
    for folder in (root, root / "a", root / "a" / "b"):
        folder.mkdir(exist_ok=True)
        (folder / "c.txt").write_text("x")
        (folder / "link").symlink_to("c.txt" if folder == root else "..")
        (folder / "loop").symlink_to("loop")
    with monkeypatch.context() as patch:
        patch.chdir(root / "a")
        given_paths = [Path(root if absolute else ".", *parts) for parts in paths]
        assert file_keys(given_paths) == [file_key(p) for p in given_paths]
