"""A seeded generator of synthetic digest archives (our own made-up text, no real digest).

The shapes follow the real sources: a quiz-text digest holds 3 papers, each with the five
labelled fields, a flow-chart line and 3 questions of 4 options (12 notes, 24 cards); a
markdown-table digest holds 13 rows with a one-paragraph summary (13 notes and cards). Every
paper has its own arXiv id. The same arguments always give the same files.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

#: Notes one digest of each kind makes (3 papers x (1 summary + 3 questions); 13 rows).
NOTES_PER_QUIZ = 12
NOTES_PER_TABLE = 13
#: Default archive: 2,000 quiz digests and 1,000 table digests, 37,000 notes.
DEFAULT_QUIZ = 2000
DEFAULT_TABLES = 1000

FIRST_DAY = date(2020, 1, 1)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_NOUNS = _words(
    "attention transformer encoder decoder retriever reranker policy reward agent planner "
    "tokenizer embedding adapter router expert gradient optimizer scheduler benchmark dataset "
    "corpus prompt context memory cache kernel layer head graph tree verifier critic judge "
    "diffusion sampler denoiser latent codec vocoder detector segmenter tracker camera scene "
    "mesh point cloud molecule protein sequence trajectory simulator controller robot "
    "curriculum distillation quantization pruning alignment preference feedback reasoning "
    "chain proof theorem program compiler query document passage table chart image video "
    "audio speech caption instruction dialogue summary translation retrieval search index"
)
_ADJECTIVES = _words(
    "sparse dense adaptive hierarchical multimodal causal contrastive recurrent linear "
    "efficient robust scalable lightweight modular unified structured latent discrete "
    "continuous parallel streaming long-context multilingual self-supervised zero-shot "
    "few-shot open-vocabulary compositional interpretable calibrated bidirectional"
)
_VERBS = _words(
    "improves reduces aligns predicts ranks compresses retrieves generates verifies plans "
    "distils routes encodes decodes filters refines selects estimates schedules merges"
)
_METRICS = _words("accuracy F1 BLEU recall precision win-rate pass@1 FID latency throughput")
_SYLLABLES = _words("ka lo mi ra ven tor qui zan pel dor ix sy bru na fel gor tam lis ot ur")
_FIRST = _words("Ana Bo Chen Dara Eli Fatima Goran Hana Ivo Jun Kai Lena Mira Noor Omar Pia")
_LAST = _words("Abe Brandt Costa Duarte Eriksen Fujita Garcia Haas Iyer Jansen Kowal Li Moreau")


class _Writer:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def pick(self, words: tuple[str, ...] | list[str]) -> str:
        return self.random.choice(words)

    def phrase(self, words: int = 3) -> str:
        parts = [self.pick(_ADJECTIVES)] + [self.pick(_NOUNS) for _ in range(words - 1)]
        return " ".join(parts)

    def number(self) -> str:
        return f"{self.random.randint(2, 95)}.{self.random.randint(0, 9)}"

    def sentence(self, subject: str) -> str:
        tail = ", ".join(self.phrase(self.random.randint(2, 4)) for _ in range(3))
        return (
            f"{subject} {self.pick(_VERBS)} the {self.phrase()} with a {self.phrase(2)} and {tail}."
        )

    def coined(self) -> str:
        """A made-up word (a dataset's or model's name), so the vocabulary keeps growing."""
        syllables = self.random.randint(2, 3)
        return "".join(self.pick(_SYLLABLES) for _ in range(syllables)).capitalize()

    def name(self) -> str:
        return f"{self.coined()}-{self.pick(_NOUNS).capitalize()}"

    def title(self, name: str) -> str:
        return f"{name}: {self.phrase(3).title()} for {self.phrase(2).title()}"

    def authors(self) -> list[str]:
        count = self.random.randint(3, 6)
        return [f"{self.pick(_FIRST)} {self.pick(_LAST)}" for _ in range(count)]


def arxiv_id(number: int) -> str:
    """The `number`-th synthetic arXiv id: 90,000 a month from January 2025, all distinct."""
    month, index = divmod(number, 90_000)
    return f"{25 + month // 12:02d}{month % 12 + 1:02d}.{10_000 + index:05d}"


def _quiz_paper(w: _Writer, number: int, paper_id: str) -> list[str]:
    name = w.name()
    method = f"{w.phrase(3)} with {w.phrase(2)}"
    bench, metric, score = w.coined(), w.pick(_METRICS), w.number()
    problem = f"{w.phrase(3)} under {w.phrase(2)}"
    fields = {
        "📘 Topic and Domain": f"{w.phrase(2).capitalize()} in {w.phrase(2)}: {name} studies "
        f"the {w.phrase(3)} of {w.phrase(2)} models.",
        "💡 Previous Research and New Ideas": w.sentence("Earlier work")
        + f" This paper instead proposes {name}, a {method}.",
        "❓ Problem": f"Existing systems suffer from {problem} when the {w.phrase(2)} grows, "
        + w.sentence("which"),
        "🛠️ Methods": f"{name} uses a {method} to {w.pick(_VERBS)[:-1]} the {w.phrase(2)}; "
        + w.sentence("A second stage"),
        "📊 Results and Evaluation": f"{name} reaches {score}% {metric} on {bench}, "
        + w.sentence("and it"),
    }
    title = w.title(name)
    lines = ["1/2", "", f"Paper {number}", "", title, ""]
    lines += [f"Published: {FIRST_DAY.isoformat()}", "", f"Link: https://arxiv.org/abs/{paper_id}"]
    lines.append("")
    lines += [f"{i}. {label}: {text}" for i, (label, text) in enumerate(fields.items(), 1)]
    chart = " ".join(w.phrase(2).title() for _ in range(45))
    lines += ["", title, "", f"{name} Workflow {chart}"]  # the flow chart repeats the title
    setting = f"{w.phrase(2)} setting"
    questions = [
        (
            f"According to the paper, what does {name} use to process the {w.phrase(2)} "
            f"in its {setting}?",
            method,
            lambda: f"{w.phrase(3)} with {w.phrase(2)}",
        ),
        (
            f"What {metric} does {name} reach on the {bench} benchmark in the {setting}?",
            f"{score}%",
            lambda: f"{w.number()}%",
        ),
        (
            f"Which problem of existing {w.phrase(2)} systems does the paper address?",
            problem,
            lambda: f"{w.phrase(3)} under {w.phrase(2)}",
        ),
    ]
    for q, (prompt, right, wrong) in enumerate(questions, 1):
        options = [right] + [wrong() for _ in range(3)]
        w.random.shuffle(options)
        lines += [f"Q{q}", f"{q}. {prompt}", *options]
    return lines


def quiz_digest(index: int, seed: int = 0) -> str:
    """The `index`-th quiz text digest: 3 papers, dated FIRST_DAY + index days."""
    w = _Writer(seed * 1_000_003 + 2 * index)
    day = FIRST_DAY + timedelta(days=index)
    lines = [f"{day.isoformat()} Papers", ""]
    for number in range(1, 4):
        lines += _quiz_paper(w, number, arxiv_id(3 * index + number - 1))
        lines.append("")
    return "\n".join(lines)


def table_digest(index: int, quizzes: int, seed: int = 0) -> str:
    """The `index`-th markdown table digest: 13 rows; its ids follow the quiz digests' ones."""
    w = _Writer(seed * 1_000_003 + 2 * index + 1)
    day = FIRST_DAY + timedelta(days=index)
    lines = [f"## Papers for {day.isoformat()}", "", "| Title | Authors | Summary |"]
    lines.append("|-------|---------|---------|")
    for row in range(13):
        paper_id = arxiv_id(3 * quizzes + 13 * index + row)
        name = w.name()
        summary = " ".join(
            [
                f"{name} introduces a {w.phrase(3)} for {w.phrase(2)}.",
                w.sentence("The research question is whether a model"),
                w.sentence(f"The method of {name}"),
                w.sentence(f"Each stage of {name}"),
                f"{name} reaches {w.number()}% {w.pick(_METRICS)} on {w.coined()}.",
                w.sentence("Compared with earlier systems, it"),
                w.sentence("For practitioners, the approach"),
            ]
        )
        link = (
            f"(Read more on [arXiv](https://arxiv.org/abs/{paper_id}) or "
            f"[HuggingFace](https://huggingface.co/papers/{paper_id}))"
        )
        title = f"{w.title(name)} {link}"
        lines.append(f"| {title}| {', '.join(w.authors())} | {summary} |")
    lines.append("")
    return "\n".join(lines)


def write_archive(
    directory: Path, quiz: int = DEFAULT_QUIZ, tables: int = DEFAULT_TABLES, seed: int = 0
) -> list[Path]:
    """Write `quiz` quiz digests and `tables` table digests into `directory`; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(quiz):
        path = directory / f"quiz-{index:05d}.txt"
        path.write_text(quiz_digest(index, seed), encoding="utf-8")
        paths.append(path)
    for index in range(tables):
        path = directory / f"table-{index:05d}.md"
        path.write_text(table_digest(index, quiz + 1, seed), encoding="utf-8")
        paths.append(path)
    return paths


def write_next_digest(directory: Path, quiz: int, seed: int = 0) -> Path:
    """The quiz digest that follows an archive of `quiz` quiz digests (the next day's)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"quiz-{quiz:05d}.txt"
    path.write_text(quiz_digest(quiz, seed), encoding="utf-8")
    return path


def archive_size(notes: int) -> tuple[int, int]:
    """Quiz and table digest counts, two of the first per one of the second, for ~`notes`."""
    units = max(1, round(notes / (2 * NOTES_PER_QUIZ + NOTES_PER_TABLE)))
    return 2 * units, units
