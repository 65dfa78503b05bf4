"""The MCQ card's tap-to-choose script, run under Node with a minimal stand-in for the card's DOM.

Anki's webviews cannot run here; this checks the script's own logic on both sides of a card, the
way AnkiDroid (a new page per side, sessionStorage kept) and the desktop (one page, sessionStorage
unavailable in this stand-in) load it: options shown in the order the note's data gives, the
back's letter relabelled, and notes built before that (fields not yet updated) still right."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import FIXTURES

from flashcards.anki.notetypes import MCQ_SCRIPT
from flashcards.model import MAX_OPTIONS, option_letter

NODE = shutil.which("node")

HARNESS = FIXTURES / "card_script" / "card_harness.js"


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_tap_to_choose_script_on_front_and_back(tmp_path: Path) -> None:
    assert MCQ_SCRIPT.startswith("<script>") and MCQ_SCRIPT.endswith("</script>")
    (tmp_path / "card.js").write_text(MCQ_SCRIPT[len("<script>") : -len("</script>")])
    completed = subprocess.run(
        [NODE, str(HARNESS), str(tmp_path / "card.js")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    results = json.loads(completed.stdout)
    assert results == {
        "front_list": "fc-choices fc-tappable",
        "front_roles": ["button", "button", "button"],
        "front_listeners": [1, 1, 1],
        "front_after_clicks": ["fc-chosen", "", ""],
        "back_wrong_choice": ["fc-wrong", "fc-correct", ""],
        "back_no_choice": ["", "fc-correct", ""],
        "back_unknown_answer": ["", "fc-chosen", ""],
        "back_right_choice": ["", "", "fc-correct"],
        "back_unsure_answer": ["fc-wrong", "", "fc-correct fc-unsure"],
        "back_unknown_letter": "",
        "shuffled_front_order": ["2", "0", "1"],
        "shuffled_front_order_again": ["2", "0", "1"],
        "shuffled_back_order_while_loading": ["2", "0", "1"],
        "shuffled_back_order": ["2", "0", "1"],
        "shuffled_back": ["fc-wrong", "", "fc-correct"],
        "shuffled_back_letter": "A",
        "shuffled_back_again": [["2", "0", "1"], ["fc-wrong", "", "fc-correct"], "A"],
        "bad_order": ["0", "1", "2"],
        "legacy_front_order": ["1", "2", "0"],
        "legacy_back": [["fc-wrong", "fc-correct", ""], "B"],
    }


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_script_reads_and_writes_option_letters_as_the_model_does(tmp_path: Path) -> None:
    """The card's script has its own copy of the letters rule (the card cannot import Python):
    each letter `option_letter` writes into AnswerLetter reads back as its index, and the letter
    the back shows for an index is `option_letter`'s."""
    body = MCQ_SCRIPT[len("<script>") : -len("</script>")]
    letters = re.search(r'var LETTERS = "([A-Z]+)";', body)
    reader = re.search(r"\n  (function letterIndex\(letter\) \{\n.*?\n  \})\n", body, re.S)
    assert letters is not None and reader is not None
    probe = tmp_path / "letters.js"
    probe.write_text(
        f"var LETTERS = {json.dumps(letters.group(1))};\n{reader.group(1)}\n"
        f"var wanted = {json.dumps([option_letter(i) for i in range(MAX_OPTIONS)])};\n"
        "console.log(JSON.stringify({read: wanted.map(letterIndex),"
        " shown: wanted.map(function (_, i) { return LETTERS.charAt(i); })}));\n"
    )
    completed = subprocess.run(
        [NODE, str(probe)], capture_output=True, text=True, timeout=30, check=True
    )
    results = json.loads(completed.stdout)
    assert results["read"] == [str(i) for i in range(MAX_OPTIONS)]
    assert results["shown"] == [option_letter(i) for i in range(MAX_OPTIONS)]
