"""The answer-key file: reading and checking it, and writing one for a person to check.

The answer-key file is YAML, one entry per paper, the letters of the right options in question
order (A = first option; `?`, `~` or `null` = unknown, left to the next source):

    "2504.17761": [B, C, A]          # an arXiv id (quote it: unquoted 2504.17760 is a number)
    "title:some-paper-title": [A, ?] # a paper without arXiv id: title: + its normalised title

A letter after a `~` (`~B`) is an inferred letter nobody has checked yet: it counts as unknown
(the build infers the answer again and the card says "Inferred"), and it is kept as a guess when
the file is rewritten. Removing the `~` confirms it: only plain letters are "from your key".

A paper may also be named by `arxiv:<id>`, or by its plain title (normalised the same way as
`Paper.key`). `flashcards answers PATH... -o KEY.yaml` writes such a file for a person to check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from flashcards.atomicfile import replace_files
from flashcards.errors import ConfigError
from flashcards.inputfile import file_key
from flashcards.links import arxiv_id_from_text
from flashcards.model import Digest, Paper, Question, option_index, option_letter, paper_key
from flashcards.parse.common import collapse_whitespace
from flashcards.visible import visible_text
from flashcards.yamlfile import MAX_ANSWER_KEY_BYTES, compose_yaml, read_text

_UNKNOWN = frozenset({"?", "~", "null", "none", ""})
_EVIDENCE_CHARS = 200


@dataclass(frozen=True)
class AnswerKey:
    """Correct options per paper key (`Paper.key`), 0-based, in question order."""

    source: str
    answers: dict[str, tuple[int | None, ...]] = field(default_factory=dict)
    #: Line of each entry in the file (1-based), for messages; the name as the user wrote it.
    lines: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    #: Per entry, the unchecked `~X` letters (None where the letter is plain or unknown).
    guesses: dict[str, tuple[int | None, ...]] = field(default_factory=dict)
    #: Per entry, the line of each letter (in the block form they sit below the entry's line).
    letter_lines: dict[str, tuple[int, ...]] = field(default_factory=dict)


def paper_key_of(name: str) -> str:
    """The `Paper.key` an answer-key entry names: arXiv id, `arxiv:`/`title:` form, or title."""
    name = name.strip()
    if name.lower().startswith("arxiv:"):
        name = name[len("arxiv:") :].strip()
    arxiv_id = arxiv_id_from_text(name)
    if arxiv_id is None and name.lower().startswith("title:"):
        name = name[len("title:") :]
    return paper_key(arxiv_id, name)


# libyaml (the fast parser a big key needs) refuses a bare `?` before a comma in `[?, B]`, and
# some libyaml builds also before `]`; PyYAML reads it as an empty "complex key" mapping. Write it
# as `~` (null, also "unknown"), the same length, so every line and column stays put.
_UNKNOWN_IN_FLOW = re.compile(r"(?<=[\[,])([ \t]*)\?(?=[ \t]*[,\]])")


def _is_unknown_node(node: yaml.Node) -> bool:
    # A bare `?` inside a YAML sequence is the "complex key" indicator: it composes to a mapping
    # with one empty key and value. Users mean "unknown" by it, so read it that way.
    return (
        isinstance(node, yaml.MappingNode)
        and len(node.value) == 1
        and all(isinstance(n, yaml.ScalarNode) and n.value == "" for n in node.value[0])
    )


def _letters_of(
    name: str, node: yaml.Node, path: str
) -> tuple[tuple[int | None, ...], tuple[int | None, ...], tuple[int, ...]]:
    """(answers, unchecked guesses, lines) of one entry: `~B` is unknown in the answers, B in the
    guesses; the line of each letter, for messages."""
    line = node.start_mark.line + 1
    items: list[tuple[str, int]] = []
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if _is_unknown_node(item):
                items.append(("?", item.start_mark.line + 1))
            elif isinstance(item, yaml.ScalarNode):
                items.append((item.value, item.start_mark.line + 1))
            else:
                raise ConfigError(
                    f"{name}: expected an option letter, got a nested structure",
                    path,
                    item.start_mark.line + 1,
                )
    elif isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str"):
        # "B, C, A", "B C A" or "BCA": a convenience for hand-written keys.
        text = node.value.strip()
        parts = re.split(r"[\s,]+", text) if re.search(r"[\s,]", text) else _glued(text)
        items = [(p, line) for p in parts if p]
    else:
        raise ConfigError(f"{name}: expected a list of letters like [B, C, A]", path, line)
    answers: list[int | None] = []
    guesses: list[int | None] = []
    for value, item_line in items:
        letter = value.strip()
        unchecked = len(letter) > 1 and letter.startswith("~")
        index = option_index(letter[1:].strip() if unchecked else letter)
        if letter.lower() in _UNKNOWN:
            answers.append(None)
            guesses.append(None)
        elif index is not None:
            answers.append(None if unchecked else index)
            guesses.append(index if unchecked else None)
        else:
            raise ConfigError(
                f"{name}: {value!r} is not an option letter "
                "(A, B, C, …, ~B for an unchecked guess, or ? for unknown)",
                path,
                item_line,
            )
    return tuple(answers), tuple(guesses), tuple(item_line for _, item_line in items)


def _glued(text: str) -> list[str]:
    """The letters of "BCA" or "B~CA" (a `~` belongs to the letter after it)."""
    return re.findall(r"~?[^~]", text)


def load_answer_key(path: str | Path) -> AnswerKey:
    """Read and check an answer-key file (see the module docstring for its form)."""
    source = str(path)
    if not Path(path).exists():
        raise ConfigError("answer key file not found", source)
    # The node tree, not the constructed values: an unquoted 2504.17760 must keep its trailing
    # zero, and a bare `?` in a list must read as "unknown".
    text = _UNKNOWN_IN_FLOW.sub(r"\1~", read_text(path, max_bytes=MAX_ANSWER_KEY_BYTES))
    root = compose_yaml(text, source)
    if root is None:
        return AnswerKey(source)
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(
            "an answer key maps arXiv ids (or titles) to lists of letters, "
            'e.g. "2504.17761": [B, C, A]',
            source,
            root.start_mark.line + 1,
        )
    answers: dict[str, tuple[int | None, ...]] = {}
    lines: dict[str, int] = {}
    names: dict[str, str] = {}
    guesses: dict[str, tuple[int | None, ...]] = {}
    letter_lines: dict[str, tuple[int, ...]] = {}
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode) or not key_node.value.strip():
            raise ConfigError("expected an arXiv id or a paper title as key", source, line)
        # The raw scalar text, so that an unquoted 2504.17760 keeps its trailing zero.
        name = key_node.value.strip()
        entry = paper_key_of(name)
        if entry == "title:":
            raise ConfigError(f"{name}: not an arXiv id or a paper title", source, line)
        if entry in answers:
            raise ConfigError(f"{name}: listed twice (first on line {lines[entry]})", source, line)
        answers[entry], guessed, letter_lines[entry] = _letters_of(name, value_node, source)
        if any(g is not None for g in guessed):
            guesses[entry] = guessed
        lines[entry] = line
        names[entry] = name
    return AnswerKey(source, answers, lines, names, guesses, letter_lines)


# -- checking a key against digests ---------------------------------------------------------


def unmatched_entries(key: AnswerKey, digests: Iterable[Digest]) -> list[str]:
    """The entries of `key` (paper keys, in file order) that name no paper of `digests`."""
    known = {paper.key for digest in digests for paper in digest.papers}
    return [entry for entry in key.answers if entry not in known]


def check_key(key: AnswerKey, digests: Sequence[Digest], *, require_match: bool = True) -> None:
    """Every entry must have no more letters than its paper has questions, and every letter
    must be within its question's options; with `require_match`, every entry must also name a
    paper of `digests` (a key written for other digests, or a typo in an id, is an error)."""
    papers: dict[str, Paper] = {}
    for digest in digests:
        for found in digest.papers:
            papers.setdefault(found.key, found)
    for entry, letters in key.answers.items():
        name = key.names.get(entry, entry)
        line = key.lines.get(entry)
        paper = papers.get(entry)
        if paper is None:
            if not require_match:
                continue
            raise ConfigError(f"{name}: matches no paper of the digests read", key.source, line)
        letter_lines = key.letter_lines.get(entry, ())
        if len(letters) > len(paper.questions):
            extra = len(paper.questions)  # the first letter without a question
            raise ConfigError(
                f"{name}: {len(letters)} answers given but the paper has "
                f"{len(paper.questions)} questions",
                key.source,
                letter_lines[extra] if extra < len(letter_lines) else line,
            )
        for position, (question, answer) in enumerate(zip(paper.questions, letters, strict=False)):
            if answer is not None and answer >= len(question.options):
                raise ConfigError(
                    f"{name}: answer {option_letter(answer)} for Q{question.number} is out of "
                    f"range (the question has {len(question.options)} options, "
                    f"A–{option_letter(len(question.options) - 1)})",
                    key.source,
                    letter_lines[position] if position < len(letter_lines) else line,
                )


# -- writing a key for a person to check -----------------------------------------------------


def _key_name(paper: Paper) -> str:
    return paper.arxiv_id if paper.arxiv_id else paper.key


def _comment(text: str) -> str:
    """Digest text on one comment line: a bidi override there would make it read as something
    else to the person checking the key, and a control character would make the file one that
    YAML refuses (`visible_text`)."""
    return collapse_whitespace(visible_text(text))


def _evidence_note(question: Question) -> str:
    evidence = _comment(question.evidence or "no supporting sentence found")
    if len(evidence) > _EVIDENCE_CHARS:
        evidence = evidence[: _EVIDENCE_CHARS - 1].rstrip() + "…"
    return f"evidence: {evidence}"


def _question_comments(question: Question) -> list[str]:
    """The question and its lettered options (the digest's order) as comments above its line,
    so that a person can check the letter without opening the digest."""
    lines = [f"  # Q{question.number}. {_comment(question.prompt)}"]
    lines += [
        f"  #   {option_letter(i)}) {_comment(option)}" for i, option in enumerate(question.options)
    ]
    return lines


def _key_line(question: Question, guess_unsure: bool) -> str:
    """One `  - X  # Qn …` line of the key: the letter (or ?) and where it came from."""
    number = f"Q{question.number}"
    if question.answer is None:
        return f"  - ?  # {number}: no answer"
    letter = option_letter(question.answer)
    if question.answer_source == "key":
        return f"  - {letter}  # {number} from the answer key"
    if question.answer_source == "marked":
        return f"  - {letter}  # {number} marked in the digest"
    percent = round(100 * (question.confidence or 0.0))
    if not question.unsure:
        # `~`: inferred and unchecked; the next build still calls it inferred until a person
        # removes the `~`.
        return (
            f"  - ~{letter}  # {number} inferred ({percent}%), unchecked: "
            f"{_evidence_note(question)}"
        )
    if guess_unsure:
        # Still `~`: a guess under the threshold is the last thing to present as checked.
        return (
            f"  - ~{letter}  # {number} unsure ({percent}%), unchecked: {_evidence_note(question)}"
        )
    # An unchecked guess must not come back as "from your answer key": written as ? it stays
    # inferred (and tagged unsure) until a person replaces the ? with a letter.
    return (
        f"  - ?  # {number} unsure ({percent}%): best guess {letter} — {_evidence_note(question)}"
    )


def _unique_papers(digests: Iterable[Digest]) -> Iterator[tuple[Digest, Paper]]:
    seen: set[str] = set()
    for digest in digests:
        for paper in digest.papers:
            if paper.questions and paper.key not in seen:
                seen.add(paper.key)
                yield digest, paper


def format_answer_key(
    digests: Iterable[Digest], *, guess_unsure: bool = False, kept: AnswerKey | None = None
) -> str:
    """YAML text of an answer key for resolved `digests`, one commented line per question.

    Unsure answers are written as `?` with the best guess, its confidence and evidence in the
    comment, so that the next build keeps treating them as inferred (and unsure) until a
    person confirms them; with `guess_unsure` their letter is written as unchecked (`~B`, still
    commented as unsure), so a person confirms one by removing the `~`.

    The entries of `kept` (the previous key) that name no paper of `digests` are written at the
    end as they were: refreshing a key from today's digest must not drop yesterday's checks.
    """
    digests = list(digests)
    out = [
        "# Answer key: arXiv id (or title:<normalised title>) -> the letters of the right options",
        "# in question order (A = first option, ? = unknown); each question and its options are",
        "# above its letter. ~B is an inferred letter nobody has checked: cards still call it",
        "# inferred. Check it and remove the ~ (or correct the letter); replace each ? with the",
        '# right letter. Only plain letters read "from your answer key" on the cards. Then pass',
        "# this file with --answers KEY.yaml (or `answers:` in a deck definition).",
    ]
    for digest, paper in _unique_papers(digests):
        out.append("")
        out.append(f"# {_comment(paper.title)} ({digest.date.isoformat()})")
        out.append(f"{json.dumps(_key_name(paper), ensure_ascii=False)}:")
        for question in paper.questions:
            out.extend(_question_comments(question))
            out.append(_key_line(question, guess_unsure))
    carried = unmatched_entries(kept, digests) if kept else []
    if kept and carried:
        out.append("")
        out.append(f"# Kept from {kept.source} as they were: papers not in the digests read")
        for entry in carried:
            guesses = kept.guesses.get(entry, ())
            letters = [
                _kept_letter(a, guesses[i] if i < len(guesses) else None)
                for i, a in enumerate(kept.answers[entry])
            ]
            name = json.dumps(kept.names.get(entry, entry), ensure_ascii=False)
            out.append(f"{name}: [{', '.join(letters)}]")
    return "\n".join(out) + "\n"


def _kept_letter(answer: int | None, guess: int | None) -> str:
    if answer is not None:
        return option_letter(answer)
    return f"~{option_letter(guess)}" if guess is not None else "?"


def write_answer_key(
    digests: Iterable[Digest],
    path: str | Path,
    *,
    guess_unsure: bool = False,
    kept: AnswerKey | None = None,
) -> None:
    """Write `format_answer_key` atomically (`atomicfile`: a failed write raises `BuildError`
    and leaves any previous file as it was); never over one of the `digests` (see
    `check_key_output`)."""
    digests = list(digests)
    check_key_output(path, digests)
    text = format_answer_key(digests, guess_unsure=guess_unsure, kept=kept)
    replace_files([(Path(path), text.encode("utf-8"))])


def check_key_output(path: str | Path, digests: Iterable[Digest]) -> None:
    """Refuse to write a key over a digest it is made from (`-o` naming an input by mistake):
    with `--fresh` nothing reads the old file first, so the digest would simply be lost."""
    target = file_key(path)
    for digest in digests:
        if digest.source != "-" and file_key(digest.source) == target:
            raise ConfigError(
                "is a digest read by this run: the answer key would replace it; write the key "
                "to another file (nothing was written)",
                path,
            )


def check_replaceable_key(path: str | Path, *, read_from: str | Path | None = None) -> None:
    """A key written over an existing file whose answers are not read (`--fresh`, or another
    `--answers` key than `read_from`) replaces it: that file must be an answer key, not a state
    file, a deck definition or a package named by mistake."""
    if not Path(path).is_file():
        return
    if read_from is not None and file_key(read_from) == file_key(path):
        return  # read as the key already, so checked
    try:
        load_answer_key(path)
    except ConfigError as exc:
        where = f"line {exc.line}: " if exc.line is not None else ""
        raise ConfigError(
            f"is not an answer key ({where}{exc.message}); the key would replace it: write it "
            "to another file (nothing was written)",
            path,
        ) from None
