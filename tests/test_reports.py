"""What a build tells scripts and people: `build --json`, `--quiet`, the progress bar (only on a
terminal), and the deck description Anki shows (checked through the real backend)."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from anki_helpers import fresh_collection, import_package
from click.testing import CliRunner
from test_daily_workflow import ADAM, BATCHNORM, RESNET, _digest_text

from flashcards import __version__, progress
from flashcards.cli import main

MON, TUE = date(2025, 3, 3), date(2025, 3, 4)


def _digests(folder: Path) -> Path:
    folder.mkdir()
    (folder / "mon.txt").write_text(_digest_text(MON, RESNET, BATCHNORM), encoding="utf-8")
    (folder / "tue.txt").write_text(_digest_text(TUE, ADAM), encoding="utf-8")
    # A file in the folder that is no digest: skipped with a warning.
    (folder / "notes.md").write_text("# my notes\n", encoding="utf-8")
    return folder


def test_build_json_is_one_object_on_stdout_with_the_warnings(tmp_path: Path) -> None:
    digests = _digests(tmp_path / "digests")
    out = tmp_path / "out" / "deck.apkg"
    args = ["build", "-i", str(digests), "-o", str(out), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # the warning is in the JSON, not on stderr
    document = json.loads(result.stdout)
    [deck] = document["decks"]
    # 3 papers with 4 + 4 + 3 summary cards (Adam has no previous research; a new deck makes no
    # Topic card) and 3 + 2 + 2 MCQs.
    assert deck == {
        "deck": "AI Papers",
        "output": str(out),
        "state": str(tmp_path / "out" / "deck.state.json"),
        "written": True,
        "bytes": out.stat().st_size,
        "notes": 3 + 7,
        "cards": 11 + 7,
        "new": 10,
        "changed": 0,
        "unchanged": 0,
        "unsure": deck["unsure"],
        "delta": None,
        "warnings": [
            {
                "path": str(digests / "notes.md"),
                "line": 1,
                "code": "skipped-file",
                "message": deck["warnings"][0]["message"],
            }
        ],
    }
    # The unsure count is the number of questions tagged answer::unsure in the deck: the last
    # question of each paper is one its digest never answers.
    assert deck["unsure"] >= 3
    assert deck["warnings"][0]["message"].startswith("not a digest")

    again = json.loads(CliRunner().invoke(main, args).stdout)["decks"][0]
    assert (again["written"], again["new"], again["unchanged"]) == (False, 0, 10)


def test_build_json_error_leaves_stdout_empty(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"")
    args = ["build", "-i", str(tmp_path / "bad.txt"), "-o", str(tmp_path / "d.apkg"), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {tmp_path / 'bad.txt'}:1: empty file\n"


def test_quiet_prints_errors_only(tmp_path: Path) -> None:
    digests = _digests(tmp_path / "digests")
    out = tmp_path / "deck.apkg"
    quiet = CliRunner().invoke(main, ["build", "-q", "-i", str(digests), "-o", str(out)])
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    assert out.is_file()
    loud = CliRunner().invoke(main, ["build", "-i", str(digests), "-o", str(out)])
    assert "warning: " in loud.stderr and "AI Papers → " in loud.stdout

    checked = CliRunner().invoke(main, ["check", "--quiet", "-i", str(digests)])
    assert (checked.exit_code, checked.stdout, checked.stderr) == (0, "", "")
    (digests / "bad.txt").write_bytes(b"\x00")
    failed = CliRunner().invoke(main, ["build", "--quiet", "-i", str(digests), "-o", str(out)])
    assert failed.exit_code == 2
    assert failed.stderr.startswith(f"error: {digests / 'bad.txt'}:1: ")


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    digests = _digests(tmp_path / "digests")
    for name in ("build", "check"):
        args = [name, "-i", str(digests)]
        if name == "build":
            args += ["-o", str(tmp_path / "deck.apkg")]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "reading digests" not in result.output
        assert "\r" not in result.output and "\x1b" not in result.output


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_shows_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(progress, "DELAY", 0)
    wrap = progress.progress_bar("reading digests")
    assert wrap is not None
    assert list(wrap([("a", False), ("b", True)])) == [("a", False), ("b", True)]
    assert "reading digests" in terminal.getvalue()
    assert progress.progress_bar("reading digests", quiet=True) is None


def test_deck_description_says_what_the_deck_holds_escaped(tmp_path: Path) -> None:
    # Anki renders the description as HTML: a hostile folder name must show as text.
    digests = _digests(tmp_path / "<b onmouseover=alert(1)>digests")
    out = tmp_path / "deck.apkg"
    result = CliRunner().invoke(main, ["build", "-i", str(digests), "-o", str(out)])
    assert result.exit_code == 0, result.output
    with fresh_collection(tmp_path) as col:
        import_package(col, out)
        deck = col.decks.by_name("AI Papers")
        assert deck is not None
        description = deck["desc"]
    assert "2 digest days (2025-03-03 to 2025-03-04): 3 papers, 10 notes, 18 cards." in description
    assert f"flashcards {__version__}" in description
    assert "digests in &lt;b onmouseover=alert(1)&gt;digests" in description
    assert "<b onmouseover" not in description

    # Derived from the inputs only: a rebuild elsewhere at another time has the same bytes.
    again = tmp_path / "again" / "deck.apkg"
    again.parent.mkdir()
    CliRunner().invoke(main, ["build", "-i", str(digests), "-o", str(again)])
    assert again.read_bytes() == out.read_bytes()
