"""Inputs that used to hang, blow up or end in a traceback (issue 9, items 8-12): each now
finishes with a clean result or one `path:line: message` error.

Every call that once ran for minutes goes through `finishes` (a hang guard of 60 s that only a
real hang exceeds); none asserts how fast it ran.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import FIXTURES, HANG_TIMEOUT, without_hanging

import flashcards.parse
from flashcards.answers import load_answer_key
from flashcards.cli import main
from flashcards.deckdef import load_deck_definition
from flashcards.errors import ConfigError, ParseError
from flashcards.parse import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_LINE,
    decode,
    find_digest_files,
    markdown_table,
    parse_file,
    parse_paths,
    parse_text,
)
from flashcards.topics import load_taxonomy
from flashcards.yamlfile import MAX_DEPTH, parse_yaml

QUIZ = FIXTURES / "quiz" / "marks.txt"

# 9 anchors, each a list of 9 aliases to the one before: 9^9 = 387 million strings once expanded,
# in about 450 bytes.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def deck_project(tmp_path: Path, extra: str = "") -> Path:
    shutil.copy(QUIZ, tmp_path / "digest.txt")
    return write(tmp_path / "deck.yaml", f"name: D\nsources: [digest.txt]\n{extra}")


# --- 8. YAML alias bombs ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["tags", "sources", "unused"])
def test_an_alias_bomb_in_a_deck_definition_is_refused(tmp_path: Path, where: str) -> None:
    bomb = ALIAS_BOMB.replace("\n", "\n  ").rstrip()
    if where == "unused":
        text = f"name: D\nsources: [digest.txt]\nx:\n  {bomb}\n"
    else:
        text = f"name: D\nsources: [digest.txt]\n{where}:\n  {bomb}\n"
    path = write(tmp_path / "deck.yaml", text)
    shutil.copy(QUIZ, tmp_path / "digest.txt")
    with pytest.raises(ConfigError) as info:
        without_hanging(lambda: load_deck_definition(path))
    assert info.value.path == str(path)
    assert info.value.line == 10  # the anchor whose expansion crosses the limit
    assert info.value.message == "aliases expand to more than 1000000 extra values"


def test_an_alias_bomb_in_a_taxonomy_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.yaml", ALIAS_BOMB + "topics:\n  x:\n    label: X\n    keywords: *i\n"
    )
    with pytest.raises(ConfigError, match=r":7: aliases expand to more than 1000000 extra values"):
        without_hanging(lambda: load_taxonomy(path))


def test_an_answer_key_alias_bomb_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "key.yaml", ALIAS_BOMB)
    with pytest.raises(ConfigError, match=r":7: aliases expand"):
        without_hanging(lambda: load_answer_key(path))


def test_a_small_alias_tree_is_read_and_checked_once_per_node(tmp_path: Path) -> None:
    # 9^5 = 59,049 values once expanded: allowed, and the duplicate-key check (which used to walk
    # every expanded alias) visits each of the 50 nodes once.
    lines = ALIAS_BOMB.splitlines()[:5]
    doc = without_hanging(lambda: parse_yaml("\n".join(lines) + "\n", "x.yaml"))
    assert len(doc.data["e"]) == 9 and doc.data["e"][0][0][0][0] == ["lol"] * 9
    dup = "\n".join(lines) + "\nf:\n  k: *e\n  k: *e\n"
    with pytest.raises(ConfigError, match=r"^x\.yaml:8: k: duplicate key$"):
        parse_yaml(dup, "x.yaml")


def test_a_value_that_contains_itself_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^x\.yaml:2: a value contains itself"):
        parse_yaml("name: D\nsources: &s [a, *s]\n", "x.yaml")


# --- deep nesting (RecursionError before) ----------------------------------------------------


@pytest.mark.parametrize("style", ["flow", "block"])
def test_yaml_nested_too_deep_is_an_error_with_its_line(tmp_path: Path, style: str) -> None:
    depth = 900
    if style == "flow":
        body = "[" * depth + "]" * depth + "\n"
        line = 3
    else:
        body = "\n" + "".join("  " * (i + 1) + "-\n" for i in range(depth))
        line = 3 + MAX_DEPTH
    deck = write(tmp_path / "deck.yaml", f"name: D\nsources:\n  {body}")
    taxonomy = write(tmp_path / "t.yaml", f"topics: {{}}\nx:\n  {body}")
    key = write(tmp_path / "key.yaml", f'"2504.17761": [A]\nx:\n  {body}')
    for path, read in [(deck, load_deck_definition), (taxonomy, load_taxonomy)]:
        with pytest.raises(ConfigError) as info:
            read(path)
        assert (info.value.path, info.value.line) == (str(path), line)
        assert info.value.message == f"nested more than {MAX_DEPTH} deep"
    with pytest.raises(ConfigError, match=rf":{line}: nested more than {MAX_DEPTH} deep$"):
        load_answer_key(key)
    result = CliRunner().invoke(main, ["build", str(deck)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {deck}:{line}: nested more than {MAX_DEPTH} deep\n"


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = MAX_DEPTH - 1
    doc = parse_yaml("x: " + "[" * depth + "]" * depth + "\n", "x.yaml")
    assert doc.data["x"] is not None


# --- 12. size limits, UTF-32, FIFOs ----------------------------------------------------------


def test_an_oversized_deck_definition_is_refused_with_the_line_of_the_limit(tmp_path: Path) -> None:
    lines = "".join(f"# comment line {i:07d} to pad the file out\n" for i in range(30_000))
    path = deck_project(tmp_path, lines)
    limit = 1024 * 1024
    line = path.read_bytes()[:limit].count(b"\n") + 1
    with pytest.raises(ConfigError) as info:
        load_deck_definition(path)
    assert str(info.value) == f"{path}:{line}: file is larger than the {limit} byte limit"
    with pytest.raises(ConfigError, match=r"file is larger than the 1048576 byte limit"):
        load_taxonomy(path)


@pytest.mark.slow
def test_a_large_answer_key_is_read_quickly_and_correctly(tmp_path: Path) -> None:
    # ~3 MB: over the size where a malformed file gets a second, slower parse for its message.
    # `[?, B]` is what libyaml (the fast parser) refuses and PyYAML reads: both mean unknown.
    entries = [f'"2501.{i:05d}": [?, B, ?]  # checked by hand\n' for i in range(80_000)]
    text = "".join(entries) + '"2502.00001": [C, ?,A, ? ,B]\n'
    path = write(tmp_path / "key.yaml", text)
    key = without_hanging(lambda: load_answer_key(path))
    assert len(key.answers) == 80_001
    assert key.answers["arxiv:2501.00007"] == (None, 1, None)
    assert key.answers["arxiv:2502.00001"] == (2, None, 0, None, 1)
    assert key.lines["arxiv:2502.00001"] == 80_001
    broken = write(tmp_path / "broken.yaml", text + '"2502.00002": [B\n')
    with pytest.raises(ConfigError, match=r"broken\.yaml:80003: invalid YAML: "):
        without_hanging(lambda: load_answer_key(broken))


@pytest.mark.parametrize("bom", [b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"])
def test_utf32_is_called_utf32(tmp_path: Path, bom: bytes) -> None:
    codec = "utf-32-le" if bom[0] == 0xFF else "utf-32-be"
    data = bom + "2025-07-14 Papers\n".encode(codec)
    with pytest.raises(ParseError, match=r"^d:1: UTF-32 text; save the file as UTF-8$"):
        decode(data, "d")
    path = tmp_path / "deck.yaml"
    path.write_bytes(bom + "name: D\n".encode(codec))
    with pytest.raises(ConfigError, match=r"deck\.yaml:1: UTF-32 text; save the file as UTF-8$"):
        load_deck_definition(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    refused = f"{fifo}: a FIFO (named pipe), not a regular file; refusing to read it"
    for args in (["parse", str(fifo)], ["build", "-i", str(fifo), "-o", str(tmp_path / "o.apkg")]):
        # A process of its own: a blocked open() cannot be abandoned from a thread.
        result = subprocess.run(
            [sys.executable, "-m", "flashcards", *args],
            capture_output=True,
            text=True,
            timeout=HANG_TIMEOUT,
            check=False,
        )
        assert (result.returncode, result.stderr) == (2, f"error: {refused}\n")
    with pytest.raises(ParseError, match="FIFO"):
        without_hanging(lambda: parse_file(fifo))
    deck = write(tmp_path / "deck.yaml", f"name: D\nsources: [digest.txt]\ntaxonomy: {fifo.name}\n")
    shutil.copy(QUIZ, tmp_path / "digest.txt")
    with pytest.raises(ConfigError, match="is not a file"):
        without_hanging(lambda: load_deck_definition(deck))
    with pytest.raises(ConfigError, match=r"pipe\.txt: a FIFO \(named pipe\), not a regular file"):
        without_hanging(lambda: load_taxonomy(fifo))
    # A source glob or a folder that holds a FIFO skips it (it is not a file).
    assert find_digest_files(tmp_path) == [tmp_path / "digest.txt"]


def test_max_bytes_is_capped_instead_of_overflowing(tmp_path: Path) -> None:
    for command in (["parse", str(QUIZ)], ["build", "-i", str(QUIZ), "-o", "x.apkg"]):
        result = CliRunner().invoke(main, [*command, "--max-bytes", "9223372036854775807"])
        assert result.exit_code == 2
        assert "is not in the range 1<=x<=1073741824" in result.stderr
        assert "Traceback" not in result.output + result.stderr


# --- 9. symlink loops and files reached twice --------------------------------------------------


def loops(tmp_path: Path) -> Path:
    """`loop/` with one digest, two links back up (a walk that follows them never ends) and a
    link to the digest itself."""
    inner = tmp_path / "loop" / "a" / "b"
    inner.mkdir(parents=True)
    shutil.copy(QUIZ, inner / "digest.txt")
    (inner / "up").symlink_to("..", target_is_directory=True)
    (inner / "top").symlink_to("../..", target_is_directory=True)
    (tmp_path / "loop" / "same.txt").symlink_to("a/b/digest.txt")
    return tmp_path / "loop"


def test_symlink_loops_in_source_globs_are_not_followed(tmp_path: Path) -> None:
    loop = loops(tmp_path)
    deck = write(tmp_path / "deck.yaml", "name: D\nsources: ['loop/**/*.txt', loop, 'loop/*']\n")
    definition = without_hanging(lambda: load_deck_definition(deck))
    files = without_hanging(definition.source_files)
    assert files == [loop / "a" / "b" / "digest.txt", loop / "same.txt"]
    # The same file through a link, or named by several sources, is read once.
    digests = parse_paths(files).digests
    assert [d.source for d in digests] == [str(loop / "a" / "b" / "digest.txt")]


def test_symlink_loops_in_input_folders_are_not_followed(tmp_path: Path) -> None:
    loop = loops(tmp_path)
    result = without_hanging(lambda: parse_paths([loop, loop / "a", loop / "same.txt"]))
    assert [d.source for d in result.digests] == [str(loop / "a" / "b" / "digest.txt")]
    out = tmp_path / "d.apkg"
    build = CliRunner().invoke(main, ["build", "-i", str(loop), "-i", str(loop), "-o", str(out)])
    assert build.exit_code == 0, build.output


def test_hidden_and_temporary_files_are_not_digests(tmp_path: Path) -> None:
    shutil.copy(QUIZ, tmp_path / "digest.txt")
    shutil.copy(QUIZ, tmp_path / ".digest.txt.tmp-123-abc.txt")
    (tmp_path / ".git").mkdir()
    shutil.copy(QUIZ, tmp_path / ".git" / "old.txt")
    assert find_digest_files(tmp_path) == [tmp_path / "digest.txt"]
    deck = write(tmp_path / "deck.yaml", "name: D\nsources: ['*.txt', '**/*.txt']\n")
    assert load_deck_definition(deck).source_files() == [tmp_path / "digest.txt"]
    # Asked for by name or by a dotted pattern, a hidden file is read.
    dotted = write(tmp_path / "dotted.yaml", "name: D\nsources: ['.git/*.txt']\n")
    assert load_deck_definition(dotted).source_files() == [tmp_path / ".git" / "old.txt"]


def test_absolute_and_home_patterns_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(QUIZ, tmp_path / "digest.txt")
    elsewhere = tmp_path / "decks"
    absolute = write(elsewhere / "a.yaml", f"name: D\nsources: ['{tmp_path}/*.txt']\n")
    assert load_deck_definition(absolute).source_files() == [tmp_path / "digest.txt"]
    monkeypatch.setenv("HOME", str(tmp_path))
    home = write(elsewhere / "h.yaml", "name: D\nsources: ['~/**/digest.txt']\n")
    assert load_deck_definition(home).source_files() == [tmp_path / "digest.txt"]


# --- 10. catastrophic regexes in a taxonomy ----------------------------------------------------


def test_a_catastrophic_taxonomy_pattern_runs_in_linear_time(tmp_path: Path) -> None:
    taxonomy = write(
        tmp_path / "t.yaml",
        "topics:\n  words:\n    label: Words\n    patterns: ['^(\\w+\\s?)*$']\n"
        "  bench:\n    label: B\n    patterns: ['(?-i:BENCH)\\b']\n",
    )
    title = "word " * 5_000 + "!"  # Python's engine backtracks exponentially on this
    text = f"2025-07-14 Papers\n\nPaper 1\n\n{title}\n\nQ1\n1. Which?\nA\nB\n"
    digest = write(tmp_path / "d.txt", text)
    result = without_hanging(
        lambda: CliRunner().invoke(main, ["topics", str(digest), "--taxonomy", str(taxonomy)])
    )
    assert result.exit_code == 0, result.output
    assert "1 papers; 1 (100.0%) matched no topic" in result.output
    # Ignoring case, unless the pattern says otherwise; and a match still counts.
    rules = {t.slug: t.rules[0] for t in load_taxonomy(taxonomy).topics}
    assert rules["words"].search("Two Words", "two words")
    assert not rules["bench"].search("bench", "bench")
    assert rules["bench"].search("a BENCH", "a bench")


# --- 11. markdown tables dense with markup --------------------------------------------------


def test_a_table_full_of_markup_within_the_limits_is_parsed(tmp_path: Path) -> None:
    # Each row one shape, every line just under the line limit: unmatched `[` cost markdown-it
    # time quadratic in their number (31-88 s for such a file); benchmarks/run.py times it.
    shapes = ("[", "*", "]", "![", "`", "<", "_a")
    cells = [(unit * (DEFAULT_MAX_LINE // len(unit)))[: DEFAULT_MAX_LINE - 64] for unit in shapes]
    rows = "".join(f"| T{i} | A | {cell} |\n" for i, cell in enumerate(cells))
    path = write(tmp_path / "t.md", f"{TABLE_HEAD}{rows}")
    assert path.stat().st_size < DEFAULT_MAX_BYTES
    papers = without_hanging(lambda: parse_file(path))[0].papers
    # Too dense to be prose: kept as written.
    assert [p.fields["summary"] for p in papers] == [cell.strip() for cell in cells]


TABLE_HEAD = "## Papers for 2025-07-14\n\n| Title | Authors | Summary |\n|---|---|---|\n"


def test_prose_with_a_little_markup_is_still_markdown() -> None:
    cell = "Uses **bold**, `code` and [a link](https://example.org/a) " + "word " * 40
    text = f"{TABLE_HEAD}| T | A | {cell} |\n"
    paper = parse_text(text, "t.md")[0].papers[0]
    assert paper.fields["summary"].startswith("Uses bold, code and a link word")


@pytest.mark.slow
def test_a_file_of_many_small_dense_cells_gets_a_bounded_share_of_markdown_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each cell is within the per-cell bounds, but 2 MiB of them took 16-50 s: the file's
    # markdown-it work is bounded (counted, not timed), the rest kept as written, with a warning.
    costs: list[int] = []
    by_markdown_it = markdown_table.plain_by_markdown_it

    def spy(markdown: str, **kwargs: bool) -> tuple[str, list[tuple[str, str]]]:
        costs.append(markdown_table._markdown_it_cost(markdown))
        return by_markdown_it(markdown, **kwargs)

    monkeypatch.setattr(markdown_table, "plain_by_markdown_it", spy)
    rows, size, i = [], len(TABLE_HEAD), 0
    while size < DEFAULT_MAX_BYTES - 200:
        rows.append(f"| *T{i}* | A | ![a[b[c *x* {'[' * 20} |\n")
        size, i = size + len(rows[-1]), i + 1
    path = write(tmp_path / "t.md", TABLE_HEAD + "".join(rows))
    (digest,) = without_hanging(lambda: parse_file(path))
    assert len(digest.papers) == len(rows)
    assert sum(costs) <= markdown_table._MARKDOWN_IT_BUDGET
    (warning,) = digest.warnings
    line = int(re.fullmatch(r"line (\d+): more markdown than digests hold; .*", warning)[1])
    by_line = {p.line: p for p in digest.papers}
    assert by_line[line - 1].title == f"T{line - 6}"  # read as markdown
    assert by_line[line + 1].title == f"*T{line - 4}*"  # kept as written
    assert by_line[line + 1].fields["summary"].startswith("![a[b[c *x* [[[")


def test_no_real_table_cell_is_too_dense_for_markdown(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # So every real digest reads exactly as it did before the bound (`parse --json` on both
    # folders was compared byte for byte, before and after).
    verdicts: list[bool] = []
    bound = markdown_table._too_dense

    def spy(markdown: str) -> bool:
        verdicts.append(bound(markdown))
        return verdicts[-1]

    monkeypatch.setattr(markdown_table, "_too_dense", spy)
    monkeypatch.setattr(flashcards.parse, "PARALLEL_MIN_FILES", 10**9)  # the spy sees this process
    result = parse_paths([corpus / "daily-ai-papers", corpus / "daily-ai-papers-category"])
    assert not [w for d in result.digests for w in d.warnings if "more markdown than" in w]
    # Only cells with inline markup are weighed (~3,600): one without is plain text either way.
    assert len(verdicts) > 3_000 and not any(verdicts)
    assert bound("[" * 33) and bound("*" * 300) and not bound("*" * 256 + "a" * 1000)


def _reference_digest_files(directory: Path) -> list[Path]:
    """`find_digest_files` as first written, over `Path.rglob`."""
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix.lower() in (".txt", ".md", ".html", ".htm")
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
        and p.is_file()
    )


def test_the_folder_walk_finds_what_rglob_finds(tmp_path: Path) -> None:
    loop = loops(tmp_path)  # links up the tree, a link to a file
    (loop / "x.md").mkdir()  # a folder with a digest's suffix
    (loop / "x.md" / "in.HTM").write_text("x")
    (loop / ".hidden").mkdir()
    (loop / ".hidden" / "no.txt").write_text("x")
    (loop / "a" / ".no.md").write_text("x")
    (loop / "a" / "UPPER.TXT").write_text("x")
    (loop / "a" / "notes.pdf").write_text("x")
    (loop / "a" / "dots.v1.html").write_text("x")
    (loop / "dirlink.md").symlink_to("a", target_is_directory=True)
    (loop / "broken.txt").symlink_to("missing.txt")
    (loop / "self.txt").symlink_to("self.txt")
    os.mkfifo(loop / "a" / "pipe.md")
    found = without_hanging(lambda: find_digest_files(loop))
    assert found == _reference_digest_files(loop)
    assert loop / "a" / "UPPER.TXT" in found and loop / "x.md" / "in.HTM" in found


# --- state and output files that are not regular files (second hostile pass) ------------------


def _build(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """An ad-hoc build of QUIZ in a process of its own: a read that never ends cannot be
    abandoned from a thread."""
    return subprocess.run(
        [sys.executable, "-m", "flashcards", "build", "-q", "-i", str(QUIZ), *extra],
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT,
        check=False,
        cwd=tmp_path,
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_state_file_linked_to_an_endless_device_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out.state.json").symlink_to("/dev/zero")
    result = _build(tmp_path, "-o", "out.apkg")
    assert (result.returncode, result.stderr) == (
        2,
        "error: out.state.json: cannot read the build state: a device, not a regular file; "
        "refusing to read it\n",
    )
    assert not (tmp_path / "out.apkg").exists()
    assert (tmp_path / "out.state.json").is_symlink()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_output_linked_to_an_endless_device_is_replaced_not_read(tmp_path: Path) -> None:
    (tmp_path / "out.apkg").symlink_to("/dev/zero")
    result = _build(tmp_path, "-o", "out.apkg")
    assert (result.returncode, result.stderr) == (0, "")
    # The link (not the device) was replaced by the package, as any output is.
    assert not (tmp_path / "out.apkg").is_symlink()
    assert (tmp_path / "out.apkg").read_bytes()[:2] == b"PK"


def test_a_file_name_too_long_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    long = "a" * 300
    for extra in (
        ["-o", f"{long}.apkg"],
        ["-o", "o.apkg", "--state", f"{long}.json"],
        ["-o", "o.apkg", "-i", f"{long}.md"],
        ["-o", "o.apkg", "--answers", f"{long}.yaml"],
    ):
        result = _build(tmp_path, *extra)
        assert result.returncode == 2, result.stderr
        assert re.fullmatch(
            rf"error: {long}\.\w+(\.\w+)?(/\S+)?: File name too long\n", result.stderr
        )
    deck = write(tmp_path / "deck.yaml", f"name: D\nsources: [digest.txt]\noutput: {long}.apkg\n")
    shutil.copy(QUIZ, tmp_path / "digest.txt")
    with pytest.raises(
        ConfigError, match=rf"deck\.yaml:3: output: '{long}\.apkg': File name too long"
    ):
        load_deck_definition(deck)
