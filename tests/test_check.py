"""`flashcards check`: every problem a build would stop at, collected (several bad files → several
errors), the warnings a person should look at with stable codes, exit codes, and no file written.

The digests are our own writing (tests/test_daily_workflow.py's papers), serialised by
tests/digest_writers.py.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_daily_workflow import ADAM, BATCHNORM, DROPOUT, RESNET, _digest_text

from flashcards.check import Finding, missing_days
from flashcards.cli import main
from flashcards.model import Digest

MON, TUE, WED, FRI = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5), date(2025, 3, 7)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _check(*args: str) -> tuple[int, dict[str, list[dict[str, object]]]]:
    result = CliRunner().invoke(main, ["check", *args, "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def _codes(findings: list[dict[str, object]]) -> list[object]:
    return [f["code"] for f in findings]


def test_clean_digests_give_warnings_with_codes_and_exit_0(tmp_path: Path) -> None:
    (tmp_path / "mon.txt").write_text(_digest_text(MON, RESNET, BATCHNORM), encoding="utf-8")
    (tmp_path / "tue.txt").write_text(_digest_text(TUE, ADAM, DROPOUT), encoding="utf-8")
    before = _snapshot(tmp_path)

    code, report = _check("-i", str(tmp_path))
    assert code == 0
    assert report["errors"] == []
    unsure = [w for w in report["warnings"] if w["code"] == "unsure-answer"]
    # The last question of each paper is one the digest never answers.
    first_author = next(w for w in unsure if "Who is the first author?" in str(w["message"]))
    assert first_author["path"] == str(tmp_path / "mon.txt")
    lines = (tmp_path / "mon.txt").read_text(encoding="utf-8").splitlines()
    line = int(first_author["line"])  # type: ignore[call-overload]
    assert lines[line - 1] == "Q3" and "Who is the first author?" in lines[line]
    assert "missing-day" not in _codes(report["warnings"])  # Monday, Tuesday: no gap
    assert set(_codes(report["warnings"])) <= {"unsure-answer", "no-topic"}
    assert _snapshot(tmp_path) == before  # nothing written, no state, no package

    strict = CliRunner().invoke(main, ["check", "-i", str(tmp_path), "--strict"])
    assert strict.exit_code == 1
    assert "warning: " in strict.stderr and "[unsure-answer]" in strict.stderr
    assert strict.stdout.endswith(f"0 errors, {len(report['warnings'])} warnings\n")


def test_every_bad_file_is_an_error_not_only_the_first(tmp_path: Path) -> None:
    (tmp_path / "a-empty.txt").write_bytes(b"")
    (tmp_path / "b-binary.txt").write_bytes(b"2025-03-03 Papers\n\x00\x01")
    (tmp_path / "c-good.txt").write_text(_digest_text(MON, RESNET), encoding="utf-8")
    bad_quiz = _digest_text(TUE, ADAM).replace("Q1\n1. What", "Q1\n1. Only one option?\nX\nQ9\n")
    (tmp_path / "d-bad-question.txt").write_text(bad_quiz, encoding="utf-8")

    code, report = _check("-i", str(tmp_path))
    assert code == 2
    paths = [e["path"] for e in report["errors"]]
    assert paths == [
        str(tmp_path / n) for n in ("a-empty.txt", "b-binary.txt", "d-bad-question.txt")
    ]
    assert all(e["code"] == "parse-error" and isinstance(e["line"], int) for e in report["errors"])

    plain = CliRunner().invoke(main, ["check", "-i", str(tmp_path)])
    assert plain.exit_code == 2
    assert f"error: {tmp_path / 'a-empty.txt'}:1: empty file\n" in plain.stderr


def _definition(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_deck_definitions_answer_keys_and_taxonomies_are_checked_each(tmp_path: Path) -> None:
    decks = tmp_path / "decks"
    (decks / "digests").mkdir(parents=True)
    (decks / "digests" / "mon.txt").write_text(_digest_text(MON, RESNET), encoding="utf-8")
    (decks / "bad.answers.yaml").write_text('"9999.99999": [A]\n', encoding="utf-8")
    (decks / "bad.taxonomy.yaml").write_text("topics: [1, 2]\n", encoding="utf-8")
    good = _definition(decks, "good", "name: Good\nsources: [digests/*.txt]\n")
    key = _definition(
        decks, "key", "name: K\nsources: [digests/*.txt]\nanswers: bad.answers.yaml\n"
    )
    tax = _definition(
        decks, "tax", "name: T\nsources: [digests/*.txt]\ntaxonomy: bad.taxonomy.yaml\n"
    )
    typo = _definition(decks, "typo", "name: Typo\nsourcs: [digests/*.txt]\n")
    before = _snapshot(tmp_path)

    code, report = _check(str(good), str(key), str(tax), str(typo))
    assert code == 2
    assert sorted((e["path"], e["code"]) for e in report["errors"]) == sorted(
        [
            (str(decks / "bad.answers.yaml"), "config-error"),
            (str(decks / "bad.taxonomy.yaml"), "config-error"),
            (str(typo), "config-error"),
        ]
    )
    assert all(isinstance(e["line"], int) for e in report["errors"])
    # The good deck was still checked: its unsure answer is reported.
    assert "unsure-answer" in _codes(report["warnings"])
    assert _snapshot(tmp_path) == before


def test_repeated_options_and_differing_papers_are_warnings(tmp_path: Path) -> None:
    repeated = _digest_text(MON, RESNET).replace("Gaussian noise", "a learned  attention MASK")
    (tmp_path / "mon.txt").write_text(repeated, encoding="utf-8")
    fixed = dataclasses.replace(RESNET, fields={**RESNET.fields, "problem": "Another text."})
    (tmp_path / "tue.txt").write_text(_digest_text(TUE, fixed), encoding="utf-8")

    code, report = _check("-i", str(tmp_path))
    assert code == 0
    by_code = {w["code"]: w for w in report["warnings"]}
    assert by_code["repeated-options"]["path"] == str(tmp_path / "mon.txt")
    assert "options A and C read the same" in str(by_code["repeated-options"]["message"])
    differs = by_code["paper-differs"]
    assert differs["path"] == str(tmp_path / "tue.txt")
    assert f"also in {tmp_path / 'mon.txt'}:" in str(differs["message"])


def test_a_paper_repeated_with_the_same_text_is_no_warning(tmp_path: Path) -> None:
    (tmp_path / "mon.txt").write_text(_digest_text(MON, RESNET), encoding="utf-8")
    (tmp_path / "tue.txt").write_text(_digest_text(TUE, RESNET, ADAM), encoding="utf-8")
    _, report = _check("-i", str(tmp_path))
    assert "paper-differs" not in _codes(report["warnings"])


def _digest(source: str, day: date) -> Digest:
    return Digest(source=source, format="quiz-text", date=day)


def test_missing_weekdays_inside_a_folders_range_are_reported() -> None:
    digests = [
        _digest("daily/mon.txt", MON),
        _digest("daily/fri.txt", FRI),  # Tue, Wed, Thu missing: one warning for the run
        _digest("daily/next-mon.txt", date(2025, 3, 10)),  # the weekend is no gap
        _digest("other/wed.txt", WED),  # another folder: its own series
        _digest("other/thu.txt", date(2025, 3, 6)),
    ]
    assert list(missing_days(digests)) == [
        Finding(
            "daily",
            None,
            "missing-day",
            "no digests for 3 weekdays, Tue 2025-03-04 to Thu 2025-03-06 "
            "(a gap in this folder's daily digests)",
        )
    ]


def test_an_input_folder_is_one_series_whatever_its_subfolders(tmp_path: Path) -> None:
    # An archive kept as YYYY/MM/DD: the gap across the month's end is found.
    for day in (date(2025, 2, 27), date(2025, 3, 4)):  # Thu; Fri 28 and Mon 3 missing
        folder = tmp_path / "archive" / f"{day:%Y}" / f"{day:%m}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{day:%d}.txt").write_text(_digest_text(day, RESNET), encoding="utf-8")
    _, report = _check("-i", str(tmp_path / "archive"))
    missing = [w for w in report["warnings"] if w["code"] == "missing-day"]
    assert [(w["path"], w["message"]) for w in missing] == [
        (
            str(tmp_path / "archive"),
            "no digests for 2 weekdays, Fri 2025-02-28 to Mon 2025-03-03 "
            "(a gap in this folder's daily digests)",
        )
    ]


def test_a_paper_no_topic_matches_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "mon.txt").write_text(_digest_text(MON, ADAM), encoding="utf-8")
    taxonomy = tmp_path / "t.yaml"
    taxonomy.write_text("topics:\n  vision:\n    label: Vision\n    keywords: [image]\n")
    _, report = _check("-i", str(tmp_path / "mon.txt"), "--taxonomy", str(taxonomy))
    no_topic = [w for w in report["warnings"] if w["code"] == "no-topic"]
    assert [w["path"] for w in no_topic] == [str(tmp_path / "mon.txt")]
    assert "Adam" in str(no_topic[0]["message"])


def test_no_deck_definitions_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, report = _check()
    assert code == 2
    assert _codes(report["errors"]) == ["config-error"]


def test_a_refused_link_is_a_warning_with_its_code_and_line(tmp_path: Path) -> None:
    (tmp_path / "2025-03-03.md").write_text(
        "## Papers for 2025-03-03\n\n| Title | Summary |\n|---|---|\n"
        "| [Residual Nets](javascript:alert(1)) | Deep nets train with skips. |\n",
        encoding="utf-8",
    )
    code, report = _check("-i", str(tmp_path))
    assert code == 0
    (refused,) = [w for w in report["warnings"] if w["code"] == "refused-link"]
    assert (refused["path"], refused["line"]) == (str(tmp_path / "2025-03-03.md"), 5)
    assert "javascript:alert(1)" in str(refused["message"])
    plain = CliRunner().invoke(main, ["check", "-i", str(tmp_path)])
    assert f"warning: {tmp_path / '2025-03-03.md'}:5: link " in plain.stderr
    assert "[refused-link]" in plain.stderr


def test_a_warning_quoting_a_question_shows_no_bidi_override(tmp_path: Path) -> None:
    """Warnings quote digest text on a terminal: a right-to-left override in a question would
    make the rest of the warning line display reversed, reading as something else."""
    text = _digest_text(MON, RESNET).replace(
        "Who is the first author?", "Who is the \u202efirst author?"
    )
    (tmp_path / "mon.txt").write_text(text, encoding="utf-8")
    code, report = _check("-i", str(tmp_path))
    assert code == 0
    unsure = [w for w in report["warnings"] if w["code"] == "unsure-answer"]
    assert any("Who is the first author?" in str(w["message"]) for w in unsure), unsure
    assert not any("\u202e" in str(w["message"]) for w in report["warnings"])
    plain = CliRunner().invoke(main, ["check", "-i", str(tmp_path)])
    assert "Who is the first author?" in plain.stderr and "\u202e" not in plain.stderr


@pytest.mark.parametrize("folder", ["truncated", "ignored"])
@pytest.mark.parametrize("title", ["A Study of Unlinked Papers", "When truncated links are lost"])
def test_a_warnings_code_comes_from_its_message_not_its_path_or_quoted_text(
    tmp_path: Path, folder: str, title: str
) -> None:
    """Codes are found by the words of a warning; a folder's name or a title quoted in it may
    hold another code's words ("truncated", "ignored")."""
    digest = tmp_path / folder / "mon.txt"
    digest.parent.mkdir()
    digest.write_text(
        f"2025-03-03 Papers\n\nPaper 1\n\n{title}\n\n"
        "1. 📘 Topic and Domain: Citation practice in machine learning.\n\n"
        "Q1. What does the study count?\nA. Links\nB. Citations\n",
        encoding="utf-8",
    )
    _, report = _check("-i", str(digest.parent))
    unlinked = [w for w in report["warnings"] if "has no arXiv link" in str(w["message"])]
    assert [w["code"] for w in unlinked] == ["no-arxiv-link"]


def test_a_deck_without_notes_is_reported_as_such(tmp_path: Path) -> None:
    """Its message also says "no papers", the words of another code."""
    digest = tmp_path / "mon.md"
    digest.write_text(
        "## Papers for 2025-03-03\n\n| Title | Authors | Summary |\n|---|---|---|\n",
        encoding="utf-8",
    )
    out = tmp_path / "deck.apkg"
    result = CliRunner().invoke(main, ["build", "-i", str(digest), "-o", str(out), "--json"])
    warnings = json.loads(result.stdout)["decks"][0]["warnings"]
    assert {(w["path"], w["code"]) for w in warnings} == {
        (str(digest), "no-papers"),
        (str(out), "empty-deck"),
    }
