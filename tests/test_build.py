"""`flashcards build`: deck definitions and ad-hoc builds, reports, and all-or-nothing writes."""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
from pathlib import Path
from typing import Never

import pytest
from build_samples import package_db
from click.testing import CliRunner
from helpers import NOW, QUIZ_SEED, ROOT, TABLE_SEED

from flashcards import atomicfile
from flashcards import build as builder
from flashcards.answers import resolve_answers
from flashcards.cli import main
from flashcards.deckdef import load_deck_definition
from flashcards.errors import BuildError, ConfigError, ParseError
from flashcards.model import Question
from flashcards.parse import parse_paths
from flashcards.plan import BuildPlan, plan_adhoc, plan_for_definition


@pytest.fixture
def digests(seeds: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "digests"
    folder.mkdir()
    for name in (QUIZ_SEED, TABLE_SEED):
        shutil.copyfile(seeds / name, folder / name)
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (temporary ones included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _questions(digests: Path) -> list[Question]:
    resolved = resolve_answers(list(parse_paths([digests]).digests))
    return [q for d in resolved for p in d.papers for q in p.questions]


def _adhoc(digests: Path, out: Path, **kwargs: object) -> BuildPlan:
    return plan_adhoc([digests], out / "deck.apkg", **kwargs)  # type: ignore[arg-type]


# 3 quiz papers x (4 summary cards + 3 questions) + 13 table papers x 1 summary card: a new
# deck's summary cards leave out the topic (its card would show the title, which gives it away)
SEED_NOTES, SEED_CARDS = 3 * (1 + 3) + 13, 3 * (4 + 3) + 13


def test_adhoc_build_reports_and_keeps_state_beside_the_output(
    digests: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    report = builder.build(_adhoc(digests, out), now=NOW)
    assert report == builder.BuildReport(
        deck="AI Papers",
        output=out / "deck.apkg",
        state=out / "deck.state.json",
        notes=SEED_NOTES,
        cards=SEED_CARDS,
        new=SEED_NOTES,
        changed=0,
        unchanged=0,
        written=True,
        bytes=(out / "deck.apkg").stat().st_size,
        unsure=sum(q.unsure is True for q in _questions(digests)),
    )
    assert report.unsure > 0  # the seed quiz has inferred answers the model is unsure of
    assert sorted(_snapshot(out)) == [
        "deck.apkg",
        "deck.cache/build.json",  # the build cache, beside the state (flashcards.buildcache)
        "deck.cache/chunks.sqlite",
        "deck.cache/entries.sqlite",
        "deck.state.json",
    ]
    custom = plan_adhoc([digests], out / "x.apkg", state=tmp_path / "s.json", deck="My")
    assert (custom.state, custom.name) == (tmp_path / "s.json", "My")


def test_rebuild_is_byte_identical_whatever_the_clock(digests: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    builder.build(_adhoc(digests, out), now=NOW)
    before = _snapshot(out)
    again = builder.build(_adhoc(digests, out), now=NOW + 86_400)
    assert (again.new, again.changed, again.unchanged, again.written) == (0, 0, SEED_NOTES, False)
    assert _snapshot(out) == before
    # The same input built elsewhere from the same state gives the same bytes too.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copyfile(out / "deck.state.json", elsewhere / "deck.state.json")
    builder.build(_adhoc(digests, elsewhere), now=NOW + 5)
    assert sorted(_snapshot(elsewhere)) == sorted(before)
    for name in ("deck.apkg", "deck.state.json"):  # the cache records where it was built
        assert _snapshot(elsewhere)[name] == before[name]


def test_deck_definition_build(digests: Path, tmp_path: Path) -> None:
    decks = tmp_path / "decks"
    decks.mkdir()
    (decks / "papers.yaml").write_text(
        "name: Research::Papers\n"
        "sources: ['../digests/*.txt']\n"
        "output: ../dist/papers.apkg\n"
        "cards: [summary]\n"
        "subdecks: month\n"
        "tags: [reading-list]\n",
        encoding="utf-8",
    )
    (report,) = builder.build_all(decks, now=NOW)
    assert report.deck == "Research::Papers"
    assert report.output == tmp_path / "dist" / "papers.apkg"
    assert report.state == decks / "papers.state.json"
    assert (report.notes, report.cards) == (3 + 13, 3 * 4 + 13)  # no Topic cards: a new deck
    assert report.output.is_file() and report.state.is_file()


@pytest.mark.parametrize("name", ["  ", "AI::", "AI:: ::Papers"])
def test_adhoc_deck_name_with_an_empty_part_is_refused(
    digests: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(BuildError) as info:
        builder.build(_adhoc(digests, out, deck=name), now=NOW)
    assert str(info.value) == f"{out / 'deck.apkg'}: invalid deck name {name!r}"
    assert not out.exists()


def test_no_definitions_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no deck definitions"):
        builder.build_all(tmp_path)


# --- failures leave everything as it was ---------------------------------------------------------


@pytest.fixture
def built(digests: Path, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A first build in tmp_path/out, then an edit so that the next build would change files."""
    out = tmp_path / "out"
    builder.build(_adhoc(digests, out), now=NOW)
    quiz = digests / QUIZ_SEED
    quiz.write_text(quiz.read_text(encoding="utf-8").replace("GEdit-Bench", "GEdit Bench"))
    return out, _snapshot(out)


def test_bad_input_writes_nothing(built: tuple[Path, dict[str, bytes]], digests: Path) -> None:
    out, before = built
    (digests / "broken.txt").write_text("2025-04-30 Papers\n\nPaper 1\n\n", encoding="utf-8")
    with pytest.raises(ParseError):
        builder.build(_adhoc(digests, out), now=NOW + 1)
    assert _snapshot(out) == before


def test_failure_while_packaging_writes_nothing(
    built: tuple[Path, dict[str, bytes]], digests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = built

    def explode(notes: object, **options: object) -> Never:
        raise RuntimeError("bug in packaging")

    monkeypatch.setattr(builder, "build_package", explode)
    with pytest.raises(RuntimeError):
        builder.build(_adhoc(digests, out), now=NOW + 1)
    assert _snapshot(out) == before


def test_disk_full_while_writing_leaves_deck_state_and_no_temp_files(
    built: tuple[Path, dict[str, bytes]], digests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = built
    real_fsync = os.fsync
    calls = []

    def full_disk(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the state's temp file was written; the deck's fails
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(atomicfile.os, "fsync", full_disk)
    with pytest.raises(BuildError) as info:
        builder.build(_adhoc(digests, out), now=NOW + 1)
    assert "No space left on device" in str(info.value)
    assert info.value.path == str(out / "deck.apkg")
    assert _snapshot(out) == before


def test_failed_rename_restores_the_state_already_replaced(
    built: tuple[Path, dict[str, bytes]], digests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = built
    real_replace = os.replace

    def failing_replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        if str(dst).endswith(".apkg") and ".apkg.tmp" in str(src):
            raise OSError(errno.EIO, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(atomicfile.os, "replace", failing_replace)
    with pytest.raises(BuildError):
        builder.build(_adhoc(digests, out), now=NOW + 1)
    assert _snapshot(out) == before


def test_interrupt_during_write_leaves_no_temp_files(
    built: tuple[Path, dict[str, bytes]], digests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = built

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomicfile.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        builder.build(_adhoc(digests, out), now=NOW + 1)
    assert _snapshot(out) == before


# --- command line --------------------------------------------------------------------------------


def test_cli_adhoc_build_prints_what_it_wrote(digests: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out" / "deck.apkg"
    args = ["build", "-i", str(digests), "-o", str(out), "--deck", "Papers"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert first.output == (
        f"Papers → {out} (written): {SEED_NOTES} notes, {SEED_CARDS} cards; "
        f"{SEED_NOTES} new, 0 changed, 0 unchanged\n"
    )
    second = runner.invoke(main, args)
    assert second.output.endswith(
        f"(unchanged on disk): {SEED_NOTES} notes, {SEED_CARDS} cards; "
        f"0 new, 0 changed, {SEED_NOTES} unchanged\n"
    )
    assert (out.parent / "deck.state.json").is_file()


def test_cli_builds_every_definition_in_decks(
    digests: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "decks").mkdir()
    for name in ("a", "b"):
        (tmp_path / "decks" / f"{name}.yaml").write_text(
            f"name: Deck {name}\nsources: [../digests/{QUIZ_SEED}]\n", encoding="utf-8"
        )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Deck {name} → dist/{name}.apkg (written): 12 notes, 21 cards; "
        "12 new, 0 changed, 0 unchanged"
        for name in ("a", "b")
    ]
    one = CliRunner().invoke(main, ["build", "decks/a.yaml"])
    assert one.output.startswith("Deck a → dist/a.apkg (unchanged on disk)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "x.apkg"], "--output: only for ad-hoc builds"),
        (["decks/a.yaml", "-i", "d"], "not both"),
        (["-i", "d"], "needs -o OUT.apkg"),
    ],
)
def test_cli_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["build", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_cli_errors_exit_with_their_code_and_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 2
    assert "no deck definitions" in result.output
    missing = CliRunner().invoke(main, ["build", "-i", "nowhere", "-o", "out/deck.apkg"])
    assert missing.exit_code == 2
    assert "nowhere: no such file or directory" in missing.output
    assert not (tmp_path / "out").exists()


def test_cli_adhoc_build_uses_the_given_taxonomy(digests: Path, tmp_path: Path) -> None:
    taxonomy = tmp_path / "mine.yaml"
    taxonomy.write_text(
        "topics:\n  editing:\n    label: Image editing\n    keywords: [editing]\n",
        encoding="utf-8",
    )
    out = tmp_path / "out" / "deck.apkg"
    args = ["build", "-i", str(digests / QUIZ_SEED), "-o", str(out), "--taxonomy", str(taxonomy)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    tags = {
        t
        for (row,) in package_db(out.read_bytes()).execute("select tags from notes")
        for t in row.split()
        if t.startswith("topic::")
    }
    assert tags == {"topic::editing", "topic::other"}


def _tags(package: Path) -> set[str]:
    rows = package_db(package.read_bytes()).execute("select tags from notes")
    return {tag for (tags,) in rows for tag in tags.split()}


def test_cli_unsure_below_sets_the_threshold_of_an_adhoc_build(digests: Path, tmp_path: Path):
    out = tmp_path / "deck.apkg"
    args = ["build", "-i", str(digests / QUIZ_SEED), "-o", str(out)]
    assert CliRunner().invoke(main, [*args, "--unsure-below", "0"]).exit_code == 0
    assert "answer::unsure" not in _tags(out)
    assert CliRunner().invoke(main, [*args, "--unsure-below", "1"]).exit_code == 0
    mcq = package_db(out.read_bytes()).execute(
        "select count() from notes where tags like '%answer::unsure%'"
    )
    assert mcq.fetchone()[0] == 9  # every inferred answer of the seed's 9 questions


def test_adhoc_output_must_be_an_apkg_file(digests: Path, tmp_path: Path):
    result = CliRunner().invoke(main, ["build", "-i", str(digests), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {tmp_path / 'out'}: the output must be an .apkg file, e.g. out/papers.apkg\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["build", "check", "preview"])
def test_stdin_as_a_deck_input_is_refused_saying_why(
    digests: Path, tmp_path: Path, command: str
) -> None:
    """`-i -` (stdin, which `flashcards parse` reads) is no input of a deck: its next build must
    read the same digests again. It was read as nothing, and a digest piped in was reported
    as an "empty file"."""
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    out = {"build": ["-o", str(outputs / "d.apkg")], "preview": ["-o", str(outputs / "p.html")]}
    result = CliRunner().invoke(
        main,
        [command, "-i", "-", *out.get(command, [])],
        input=(digests / QUIZ_SEED).read_bytes(),
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: -: "), result.stderr
    assert "empty" not in result.stderr and "save the digest to a file" in result.stderr
    assert list(outputs.iterdir()) == []


def test_a_digest_given_as_deck_definition_points_to_adhoc_builds(digests: Path):
    result = CliRunner().invoke(main, ["build", str(digests / QUIZ_SEED)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {digests / QUIZ_SEED}: not a deck definition (a .yaml file); to build from "
        "digest files directly, use: flashcards build -i PATH -o OUT.apkg\n"
    )


def test_committed_state_of_the_bundled_deck_is_current(tmp_path: Path) -> None:
    # A fresh clone's `flashcards build` must report nothing new or changed: otherwise the
    # committed state file is stale (refresh it with `flashcards build` and commit it).
    definition = load_deck_definition(ROOT / "decks" / "ai-papers.yaml")
    state = tmp_path / "state.json"
    shutil.copyfile(definition.state, state)
    plan = plan_for_definition(definition)
    report = builder.build(
        dataclasses.replace(plan, output=tmp_path / "deck.apkg", state=state), now=NOW
    )
    assert (report.new, report.changed, report.unchanged) == (0, 0, report.notes)
    assert state.read_bytes() == definition.state.read_bytes()
