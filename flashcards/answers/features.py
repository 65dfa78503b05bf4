"""Step 2a, last source (`flashcards.answers` calls it): infer the correct option of a question
from the paper's own text.

A lexical method, no model download: each option is described by a few features measuring how
well the digest's text (fields, title, workflow) supports the words that are *distinctive* to
that option, plus a few style features; a conditional logit (softmax over the options of one
question) turns them into probabilities, and a Platt map calibrated on held-out labelled digests
turns the winner's probability into a confidence that means what it says (0.9 → right about 9
times in 10). Weights, calibration and the document-frequency table are constants fitted by
`benchmarks/answers_eval.py --refit`; see README "## Answers" for how well it does.

The real digests' questions were written from the full papers; in a digest whose summary states
the answer, what the summary repeats is the answer. So the probabilities pool a fit on the real
digests with a fit on digests that state their answers (`option_probabilities`). The real
digests' fit also learns their quiz writer's habits (the right option is the longest, rarely
says "only"), which another writer need not share: a plain question's confidence is the mean of
the pooled model's and a text-only model's calibrated opinions of the same answer (`decide`).

No answer-position prior is used on purpose: the real digests favour the second option, but a
digest from another writer need not, and a position prior made confident mistakes on such
digests in our tests.

Local context matters where several options occur in one sentence ("eight experts, of which a
router picks two"): an option's words are scored by how close they sit to the question's words
(clause breaks count as distance), and by their lead over the rival options; every number
weighs the same, whatever its rarity; a multi-word name in the question ("Mixtral 8x7B") counts
as one clue; an acronym in the question finds its spelled-out words ("TRPO"). Mentions under a
negation ("without X", "no X", "eliminates X") or only in the previous-research field are not
what the paper claims for its own work: they count against an option of a plain question, and
they are what a negated question ("which is NOT…") or an avoidance question ("what does PPO
avoid?") asks for — both are read by the negated model.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from flashcards.model import FIELD_NAMES, Paper, Question

#: Names of the per-option features, in the order of `option_features` columns.
FEATURE_NAMES: tuple[str, ...] = (
    "support_frac",  # share of the option's distinctive words found in the text (idf-weighted)
    "support_sum",  # how much distinctive evidence was found (log idf mass)
    "dominance",  # support_frac minus the best support_frac of the other options
    "phrase",  # longest run of the option's words found together in one sentence, / length
    "bigrams",  # word pairs of the option found in the text
    "qa_sentence",  # best sentence holding both the question's and the option's words
    "qa_proximity",  # the option's words sit right next to the question's words
    "negated_mention",  # the option's words occur only after "no", "without", "unlike"…
    "prior_work_only",  # the option's support comes only from the previous-research field
    "numbers_found",  # numbers of the option that the text states
    "numbers_missing",  # numbers of the option that the text never states
    "proximity_lead",  # qa_proximity minus the best qa_proximity of the other options: where
    # several options sit in one sentence, the one bound to the question's words wins
    "backed_frac",  # share of the option's distinctive words the paper affirms of its own work
    # (not only under "no"/"without", not only in the previous-research field)
    "backed_dominance",  # backed_frac minus the best backed_frac of the other options
    "longer",  # longer than every other option (bounded: quiz writers make the right option
    # the most specific one, but a digest from another writer need not)
    "absolutes",  # "only", "completely", "solely"…: typical of distractors
    "question_echo",  # share of the option's words that merely repeat the question
)

#: The features the model of plain questions reads, in the order of `WEIGHTS`.
PLAIN_FEATURES: tuple[str, ...] = tuple(
    n for n in FEATURE_NAMES if n not in ("backed_frac", "backed_dominance")
)

#: Features that read the quiz writer's style, not the paper: right options are the longest,
#: distractors say "only" or "always", and (weakly) right options echo the question less.
STYLE_FEATURES: tuple[str, ...] = ("longer", "absolutes", "question_echo")

#: The second opinion on plain questions (see `decide`): the same features without the style.
HABIT_FREE_FEATURES: tuple[str, ...] = tuple(n for n in PLAIN_FEATURES if n not in STYLE_FEATURES)

#: A negated question ("which is NOT…", "EXCEPT") asks for the option the paper does not
#: claim for its own work: it has its own weights over these features (measured as for any
#: question, not flipped). What the paper only denies ("no Markov chains") or ascribes to
#: earlier work does not count as claimed.
NEGATED_FEATURES: tuple[str, ...] = ("backed_frac", "backed_dominance", "phrase", "bigrams")

#: Fitted by `benchmarks/answers_eval.py --refit` on all labelled digests (see its docstring).
WEIGHTS: tuple[float, ...] = (
    -0.5424,  # support_frac
    0.5684,  # support_sum
    0.0191,  # dominance
    0.1327,  # phrase
    0.5929,  # bigrams
    1.0018,  # qa_sentence
    0.5918,  # qa_proximity
    -1.1427,  # negated_mention
    -1.0475,  # prior_work_only
    -0.0881,  # numbers_found
    -0.2113,  # numbers_missing
    1.0816,  # proximity_lead
    1.1168,  # longer
    -1.2090,  # absolutes
    0.1178,  # question_echo
)
NEGATED_WEIGHTS: tuple[float, ...] = (
    -1.1702,  # backed_frac
    -1.2813,  # backed_dominance
    -1.2574,  # phrase
    -0.2159,  # bigrams
)
HABIT_FREE_WEIGHTS: tuple[float, ...] = (
    -1.4790,  # support_frac
    1.4311,  # support_sum
    -0.1662,  # dominance
    -0.7611,  # phrase
    0.8842,  # bigrams
    0.8270,  # qa_sentence
    0.7117,  # qa_proximity
    -1.2142,  # negated_mention
    -1.0515,  # prior_work_only
    0.0807,  # numbers_found
    0.1707,  # numbers_missing
    1.0049,  # proximity_lead
)

#: Platt calibration of the winner's probability: confidence = σ(A · logit(p) + B).
CALIBRATION_A = 1.0439
CALIBRATION_B = 0.1377
#: Fitted by `benchmarks/answers_eval.py --refit` on our digests whose summaries state the
#: answers (tests/fixtures/answers, the sets it names), pooled with a share of `STATED_SHARE`:
#: shares from 0.35 to 0.5 did equally well on held-out months, out-of-fold hand-made digests
#: and blind_d/e (0 and 1, each fit alone, did worse on the other kind of digest).
STATED_SHARE = 0.4
STATED_WEIGHTS: tuple[float, ...] = (
    -0.0596,  # support_frac
    -0.7825,  # support_sum
    1.1297,  # dominance
    1.1120,  # phrase
    0.3749,  # bigrams
    1.1379,  # qa_sentence
    0.4431,  # qa_proximity
    0.3965,  # negated_mention
    -0.7984,  # prior_work_only
    -0.4453,  # numbers_found
    -0.6201,  # numbers_missing
    1.1182,  # proximity_lead
    0.5290,  # longer
    -0.6752,  # absolutes
    -0.4105,  # question_echo
)
STATED_NEGATED_WEIGHTS: tuple[float, ...] = (
    -2.5149,  # backed_frac
    -1.5332,  # backed_dominance
    0.0147,  # phrase
    -0.1712,  # bigrams
)
#: Platt calibration of the habit-free model's probability of the same winner.
HABIT_FREE_CALIBRATION_A = 0.6422
HABIT_FREE_CALIBRATION_B = 0.8596


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS = _words(
    "a an the of to in on for and or with by from as at is are was were be been being it "
    "its this that these those which what how why when where who whom whose does do did "
    "doing done can could would should will may might must shall than then there their "
    "they them we our us you your he she his her into via onto about across after before "
    "during while through both each such also has have had having most other over "
    "under between among within without per not no nor but if so very just too up down "
    "out off again further once own same some any using use used uses based paper papers "
    "authors author study work proposed propose proposes approach method methods new "
    "novel main key primary i e g etc following one's many much "
)

_ABSOLUTES = _words(
    "only solely completely entirely exclusively always never purely fully perfectly "
    "guarantee guarantees guaranteed eliminate eliminates eliminating every "
)

_NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "single": "1",
    "two": "2",
    "twice": "2",
    "double": "2",
    "three": "3",
    "triple": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "thirty": "30",
    "fifty": "50",
    "hundred": "100",
    "thousand": "1000",
    "half": "50%",
}

#: Paraphrase: stems of everyday words that digests and quiz options use interchangeably,
#: each group mapped to its first member ("stay frozen" matches "keeps … frozen").
_SYNONYM_GROUPS = (
    "keep stay remain retain preserv maintain",
    "reduc decreas lower cut cuts shrink minimiz fewer less",
    "increas rais boost",
    "fast faster quick speed speedup accelerat",
    "larg bigg big",
    "combin integrat merg fuse unify",
    "generat produc creat synthesiz",
    "frozen freez",
    "drop discard remov omit",
    "select pick choos chosen",
)
_SYNONYMS = {word: group.split()[0] for group in _SYNONYM_GROUPS for word in group.split()}

# Numbers keep a glued unit ("24.5%", "4.6x", "7b", "3d"), words may carry digits ("gpt4").
_TOKEN = re.compile(r"\d+(?:\.\d+)?(?:%|[a-z]+)?|[a-z][a-z0-9]*")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_PERCENT = re.compile(r"\s*(?:percent|per cent)\b")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=\S)")

#: Negated questions: the answer is the option the paper does NOT support.
_NEGATED_LOUD = re.compile(r"\b(?:NOT|EXCEPT)\b|\*not\*|_not_")
_NEGATED_QUIET = re.compile(
    r"^\s*(?:which|what)\b[^?]*?\b(?:is|are|was|were|does|do|did|has|have|can|could|would)"
    r"\s+not\b(?!\s+only)|\bexcept\b|\bleast likely\b|\bnot (?:one of|part of|among|mentioned|"
    r"included|used|a (?:key |main |core )?(?:component|feature|step|part))\b",
    re.IGNORECASE,
)
_RELATIVE_CLAUSE_NOT = re.compile(r"\b(?:that|which|who)\s+(?:\w+\s+){0,2}not\b", re.IGNORECASE)
#: Questions about what a method does away with ("What does PPO avoid?"): like a negated
#: question, they ask for what the paper does not claim for its own work — what it denies
#: ("without X") or leaves to earlier work — so the negated model reads them.
_AVOIDANCE = re.compile(
    r"\b(?:avoid(?:s|ed)?|eliminat(?:e|es|ed)|get(?:s)? rid of|do(?:es)? away with|"
    r"dispens(?:e|es|ed) with|bypass(?:es|ed)?|sidestep(?:s|ped)?|"
    r"no longer (?:need|require|use)s?)\b",
    re.IGNORECASE,
)
#: What may follow the verb when the avoided thing is what the question asks for ("What does
#: PPO avoid compared with TRPO?", "…eliminate the need for?"), unlike "How does X avoid
#: storing Y?" or "What helps avoid overfitting?", where the avoided thing is given.
_AVOIDED_IS_ASKED = re.compile(
    r"\s*(?:the (?:need|use) (?:for|of|to)\s*)?(?:[?.:]|$|\w+ly\b|,|"
    r"(?:compared|relative|unlike|in|on|by|when|during|with|over|than|while|at|from|"
    r"altogether|entirely)\b)",
    re.IGNORECASE,
)
_QUESTION_WORD = re.compile(r"\b(?:what|which|how|why)\b", re.IGNORECASE)

_SUFFIXES = (
    "ational",
    "fulness",
    "ousness",
    "iveness",
    "ations",
    "ation",
    "ments",
    "ment",
    "ities",
    "ity",
    "ness",
    "ingly",
    "edly",
    "ings",
    "ing",
    "ions",
    "ion",
    "ers",
    "er",
    "ies",
    "ied",
    "ed",
    "ly",
    "es",
    "s",
    "ive",
    "al",
)

_LONGER_SPAN = 0.2  # log-length difference at which an option counts as fully "longer"
_WINDOW = 30  # words per chunk of a run-on text such as the workflow line
_REACH = 6  # how far (in content words) an option word looks for the question's words
_NUMBER_IDF = 5.0  # the evidence weight of any number (see `_score`)

#: Words that deny what follows ("without X", "no X", "unlike X"): X is then not supported.
_NEGATION_CUES = _words(
    "no not without neither nor never unlike lack lacks lacking instead rather cannot "
    "avoid avoids avoided avoiding eliminate eliminates eliminated eliminating "
    "bypass bypasses bypassed bypassing "
)
_NEGATION = "¬"  # stands for a negation cue in a token stream
_NEGATION_SCOPE = 5  # content words a negation cue reaches
#: Clause breaks: "28.4 BLEU on German, and 41.8 on French" keeps each number with its own
#: words. A placeholder word the tokenizer sees, then a marker in token streams.
_CLAUSE = "qqclauseqq"
_CLAUSE_BREAK = re.compile(r"[,;:()]|\s(?:and|but|while|whereas|although|though)\s|\s[-–—]\s")
_CLAUSE_PENALTY = 4  # extra distance for crossing a clause break


@dataclass(frozen=True)
class Inference:
    """The option inferred for one question."""

    answer: int  # 0-based index of the chosen option
    confidence: float  # calibrated probability that `answer` is right, in [0, 0.99]
    evidence: str | None  # the digest sentence the choice rests on
    probabilities: tuple[float, ...] = ()  # the model's (uncalibrated) share of each option
    negated: bool = False


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper: 'preserving', 'preserves', 'preservation' → 'preserv'."""
    if len(word) <= 4 or not word.isalpha() or word.endswith(("ss", "us", "is")):
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied", "ities") else "")
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    # British and American spellings meet: labelled/labeled, optimise/optimize, analyse/analyze.
    if len(word) > 5 and word.endswith("ll"):
        word = word[:-1]
    if word.endswith(("iz", "yz")):
        word = word[:-1] + "s"
    return word


#: Greek letters by name, so that "β2" is one word ("beta2") instead of a bare number "2".
_GREEK = str.maketrans(
    {
        chr(code): unicodedata.name(chr(code)).split()[-1].lower().replace("lamda", "lambda")
        for code in range(0x3B1, 0x3CA)
        if code != 0x3C2  # final sigma
    }
)


@lru_cache(maxsize=65536)
def _marked_tokens(text: str) -> tuple[str, ...]:
    """Content tokens, with `_NEGATION` standing where the text says "no", "without", …"""
    text = unicodedata.normalize("NFKC", text).lower().replace("×", "x").replace("n't", " not")
    text = text.translate(_GREEK)
    text = _PERCENT.sub("%", _THOUSANDS.sub("", text))
    text = _CLAUSE_BREAK.sub(f" {_CLAUSE} ", text)
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if token == _CLAUSE:
            out.append(token)
            continue
        if token in _NEGATION_CUES:
            out.append(_NEGATION)
            continue
        if token in _STOPWORDS:
            continue
        token = _NUMBER_WORDS.get(token, token)
        if token[0].isdigit():
            out.append(token)
        else:
            stemmed = stem(token)
            out.append(_SYNONYMS.get(stemmed, stemmed))
    return tuple(out)


@lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[str, ...]:
    """Content tokens of `text`: lower-cased, stop words dropped, words stemmed, numbers kept
    exactly with their unit ('24.5%'), number words turned into digits ('three' → '3')."""
    return tuple(t for t in _marked_tokens(text) if t not in (_NEGATION, _CLAUSE))


def is_number(token: str) -> bool:
    return token[0].isdigit()


def asks_what_is_avoided(prompt: str) -> bool:
    """Does the question ask what a method avoids, eliminates or no longer needs?"""
    for verb in _AVOIDANCE.finditer(prompt):
        asked = _QUESTION_WORD.search(prompt, 0, verb.start())
        if (
            asked is not None
            and asked.group().lower() in ("what", "which")
            and _AVOIDED_IS_ASKED.match(prompt, verb.end())
        ):
            return True
    return False


_ABOUT_PRIOR_WORK = re.compile(
    r"\b(?:earlier|previous|prior|existing|traditional|conventional|predecessors?|"
    r"baselines?|older|mentioned|described|listed)\b",
    re.IGNORECASE,
)


def asks_about_prior_work(prompt: str) -> bool:
    """Does the question ask about earlier work ("which two earlier optimizers…") or about what
    the summary mentions at all ("which is NOT mentioned as a drawback of TRPO")? Then what
    the text says of earlier work is as good an answer as what it claims for itself."""
    return _ABOUT_PRIOR_WORK.search(prompt) is not None


def asks_for_unclaimed(prompt: str) -> bool:
    """Does the question ask for an option the paper does not claim for its own work ("which
    is NOT…", "EXCEPT", "what does X avoid")? Such questions are read by the negated model."""
    return is_negated(prompt) or asks_what_is_avoided(prompt)


def is_negated(prompt: str) -> bool:
    """Does the question ask for the option that does NOT hold ('Which is NOT…', 'EXCEPT')?"""
    if _NEGATED_LOUD.search(prompt):
        return True
    match = _NEGATED_QUIET.search(prompt)
    if match is None:
        return False
    # "…a phenomenon that was not present in the data" describes the answer, it does not negate.
    # (Searched from the second character: the question's own leading "Which" is no relative.)
    return not _RELATIVE_CLAUSE_NOT.search(prompt, 1, match.end())


# -- document frequencies ------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentFrequencies:
    """How many of `documents` papers use each stem: rare words weigh more as evidence."""

    documents: int
    counts: dict[str, int]

    def idf(self, token: str) -> float:
        return math.log((self.documents + 1) / (self.counts.get(token, 0) + 1)) + 1.0

    @classmethod
    def from_papers(cls, papers: Sequence[Paper]) -> DocumentFrequencies:
        counts: Counter[str] = Counter()
        for paper in papers:
            counts.update({t for text in _paper_texts(paper) for t in tokens(text)})
        return cls(len(papers), dict(counts))

    def to_tsv(self, min_count: int = 2) -> str:
        rows = sorted((t, n) for t, n in self.counts.items() if n >= min_count)
        return f"#documents\t{self.documents}\n" + "".join(f"{t}\t{n}\n" for t, n in rows)

    @classmethod
    def from_tsv(cls, text: str) -> DocumentFrequencies:
        documents = 1
        counts: dict[str, int] = {}
        for row in text.splitlines():
            token, _, count = row.partition("\t")
            if token == "#documents":
                documents = int(count)
            elif token:
                counts[token] = int(count)
        return cls(documents, counts)


@cache
def shipped_frequencies() -> DocumentFrequencies:
    """The document frequencies shipped with the package (fitted on the labelled corpus)."""
    data = resources.files("flashcards.answers").joinpath("data/answer_idf.tsv")
    try:
        return DocumentFrequencies.from_tsv(data.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DocumentFrequencies(1, {})


def _paper_texts(paper: Paper) -> list[str]:
    return [paper.title, *(paper.fields.get(name, "") for name in FIELD_NAMES)]


# -- the paper's text, indexed -------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    """A sentence (or a window of run-on text) of one field."""

    field: str
    text: str
    tokens: tuple[str, ...]
    negated: tuple[bool, ...]  # token i follows a negation cue closely ("without X")
    positions: dict[str, tuple[int, ...]]
    clauses: tuple[int, ...]  # clause number of token i (split at commas, "and", "but"…)


def _scoped(marked: Sequence[str]) -> tuple[list[str], list[bool], list[int]]:
    """Tokens without the markers, whether each is under a negation, and its clause number."""
    clean: list[str] = []
    negated: list[bool] = []
    clauses: list[int] = []
    scope = clause = 0
    for token in marked:
        if token == _NEGATION:
            scope = _NEGATION_SCOPE
            continue
        if token == _CLAUSE:
            clause += 1
            scope = 0
            continue
        clean.append(token)
        negated.append(scope > 0)
        clauses.append(clause)
        scope = max(0, scope - 1)
    return clean, negated, clauses


def _segment(field_name: str, text: str) -> _Segment | None:
    clean, negated, clauses = _scoped(_marked_tokens(text))
    if not clean:
        return None
    positions: dict[str, list[int]] = {}
    for i, token in enumerate(clean):
        positions.setdefault(token, []).append(i)
    return _Segment(
        field_name,
        text,
        tuple(clean),
        tuple(negated),
        {t: tuple(p) for t, p in positions.items()},
        tuple(clauses),
    )


class PaperIndex:
    """A paper's text split into sentences (and windows of run-on text), with word sets."""

    def __init__(self, paper: Paper) -> None:
        segments: list[_Segment] = []
        named = [("title", paper.title), *((n, paper.fields.get(n, "")) for n in FIELD_NAMES)]
        for field_name, text in named:
            for sentence in _SENTENCE_END.split(text.strip()):
                words = sentence.split()
                if len(words) <= _WINDOW + _WINDOW // 3:
                    pieces = [sentence] if words else []
                else:
                    step = _WINDOW * 2 // 3
                    pieces = [
                        " ".join(words[start : start + _WINDOW])
                        for start in range(0, len(words) - _WINDOW // 3, step)
                    ]
                for piece in pieces:
                    segment = _segment(field_name, piece)
                    if segment is not None:
                        segments.append(segment)
        self.segments: tuple[_Segment, ...] = tuple(segments)
        self.vocabulary: frozenset[str] = frozenset(t for s in segments for t in s.tokens)
        #: Words the text uses at least once outside a negation ("without X" does not back X).
        self.affirmed: frozenset[str] = frozenset(
            t for s in segments for t, n in zip(s.tokens, s.negated, strict=True) if not n
        )
        #: Words found outside the previous-research field (which describes others' work).
        self.own_work: frozenset[str] = frozenset(
            t for s in segments if s.field != "previous_research" for t in s.tokens
        )
        #: Words the paper affirms of its own work: outside a negation and outside the
        #: previous-research field.
        self.claimed: frozenset[str] = frozenset(
            t
            for s in segments
            if s.field != "previous_research"
            for t, n in zip(s.tokens, s.negated, strict=True)
            if not n
        )
        #: In how many segments each word occurs: the paper's own name is everywhere and says
        #: little about *where* the answer is; a word of one sentence says a lot.
        self.spread: Counter[str] = Counter(t for s in segments for t in s.positions)
        self.bigrams: frozenset[tuple[str, str]] = frozenset(
            pair for s in segments for pair in itertools.pairwise(s.tokens)
        )
        #: Every lower-cased word of the text, stop words included (for `absolutes`).
        self.plain_words: frozenset[str] = frozenset(
            w for _, text in named for w in re.findall(r"[a-z]+", text.lower())
        )
        self._acronyms: dict[str, tuple[tuple[int, ...], ...]] = {}

    def acronym_positions(self, acronym: str) -> tuple[tuple[int, ...], ...]:
        """Per segment, the token positions where words spelling `acronym` begin: a question
        may say "TRPO" where the text spells out "trust region policy optimization"."""
        if acronym not in self._acronyms:
            self._acronyms[acronym] = tuple(_spelled_out(s.text, acronym) for s in self.segments)
        return self._acronyms[acronym]


_RAW_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]{1,5}s?$")
#: A multi-word name in a question ("Mixtral 8x7B", "Llama 2 70B"): capitalised or with digits.
_NAME_WORD = re.compile(r"^(?=[^a-z]*[A-Z0-9])[A-Za-z0-9][\w.+-]*$")


def _spelled_out(text: str, acronym: str) -> tuple[int, ...]:
    """Token positions in `text` where consecutive words spell `acronym` by their initials
    (function words such as "of" may be skipped, as in "Bidirectional Encoder Representations
    from Transformers")."""
    words = list(_RAW_WORD.finditer(text))
    found: list[int] = []
    for i, first in enumerate(words):
        if first.group()[0].lower() != acronym[0] or first.group().lower() in _STOPWORDS:
            continue
        k, j = 0, i
        while k < len(acronym) and j < len(words):
            word = words[j].group()
            if word[0].lower() == acronym[k]:
                k += 1
            elif word.lower() not in _STOPWORDS:
                break
            j += 1
        if k == len(acronym):
            found.append(len(tokens(text[: first.start()])))
    return tuple(found)


# -- features --------------------------------------------------------------------------------


def _longest_run(option: Sequence[str], segment: _Segment) -> int:
    """Length of the longest run of consecutive option tokens found consecutively in segment."""
    best = 0
    words = segment.tokens
    for start in range(len(option) - best):
        for pos in segment.positions.get(option[start], ()):
            length = 1
            while (
                start + length < len(option)
                and pos + length < len(words)
                and words[pos + length] == option[start + length]
            ):
                length += 1
            best = max(best, length)
    return best


@dataclass(frozen=True)
class _Asked:
    """The question's words as located in the paper's text."""

    weights: dict[str, float]  # idf of each word of the question
    #: idf / (1 + number of segments holding the word): the paper's own name is everywhere and
    #: says little about *where* the answer is; a word of one sentence says a lot.
    locating: dict[str, float]
    positions: tuple[dict[str, tuple[int, ...]], ...]  # per segment: where each word occurs


def _raw_words(text: str) -> list[str]:
    return [w.strip("?!.,:;()[]\"'“”‘’") for w in text.split()]


def _asked(prompt: str, index: PaperIndex, idf: Callable[[str], float]) -> _Asked:
    weights = {t: idf(t) for t in tokens(prompt)}
    positions = [{w: s.positions[w] for w in weights if w in s.positions} for s in index.segments]
    spread = {w: index.spread[w] for w in weights}
    raw = _raw_words(prompt)
    for word in raw:
        if not _ACRONYM.match(word):
            continue
        for token in tokens(word):
            if token in index.vocabulary or not token.isalpha():
                continue
            found = index.acronym_positions(token.removesuffix("s") if word[-1] == "s" else token)
            for where, places in zip(positions, found, strict=True):
                if places:
                    where[token] = places
            spread[token] = sum(1 for places in found if places)
    locating = {t: w / (1 + spread.get(t, 0)) for t, w in weights.items()}
    # A name of several words ("Mixtral 8x7B") is one clue, not three: its words share the
    # weight of one, so that a sentence naming the model does not outweigh the one that
    # holds what the question asks about it.
    for is_name, run in itertools.groupby(raw[1:], key=lambda w: bool(_NAME_WORD.match(w))):
        names = {t for w in run for t in tokens(w) if t in locating} if is_name else set()
        if len(names) > 1:
            share = sum(locating[t] for t in names) / len(names) ** 2
            locating.update({t: share for t in names})
    return _Asked(weights, locating, tuple(positions))


def _closeness(
    token: str,
    segment: _Segment,
    where: dict[str, tuple[int, ...]],
    weights: dict[str, float],
) -> float:
    """How tightly `token` sits among the question's words in `segment` (found at `where`): the
    weighted sum of 1/distance over question words within `_REACH` (a clause break counts as
    extra distance), at the token's best occurrence, scaled by the question's total weight."""
    total = sum(weights.values()) or 1.0
    clauses = segment.clauses
    best = 0.0
    for i in segment.positions.get(token, ()):
        value = 0.0
        for word, places in where.items():
            nearest = min(
                abs(i - j) + _CLAUSE_PENALTY * abs(clauses[i] - clauses[j]) for j in places
            )
            if nearest <= _REACH:
                value += weights[word] / math.sqrt(max(1, nearest))
        best = max(best, value / total)
    return best


#: (feature, its lead over the best other option) column pairs, filled in after all options.
_LEADS = tuple(
    (FEATURE_NAMES.index(a), FEATURE_NAMES.index(b))
    for a, b in (
        ("support_frac", "dominance"),
        ("qa_proximity", "proximity_lead"),
        ("backed_frac", "backed_dominance"),
    )
)


@dataclass(frozen=True)
class _Scored:
    features: list[list[float]]
    evidence: list[str | None]
    negated: bool  # read by the negated model (see `asks_for_unclaimed`)
    avoided: bool  # "what does X avoid": the answer's own sentence is the evidence


def _score(
    paper: Paper,
    question: Question,
    index: PaperIndex,
    idf: Callable[[str], float],
) -> _Scored:
    asked_words = _asked(question.prompt, index, idf)
    prompt = asked_words.weights
    prompt_mass = sum(prompt.values()) or 1.0
    locating = asked_words.locating
    options = [tokens(o) for o in question.options]
    shared = Counter(t for o in options for t in set(o))
    avoided = asks_what_is_avoided(question.prompt)
    negated = avoided or is_negated(question.prompt)
    prior_asked = asks_about_prior_work(question.prompt)
    claimed = index.affirmed if prior_asked else index.claimed
    textual: list[list[float]] = []
    style: list[list[float]] = []
    evidence: list[str | None] = []
    for raw, option in zip(question.options, options, strict=True):
        clean, denied, _ = _scoped(_marked_tokens(raw))
        # "with no gradient updates" is backed by a text saying "no gradient updates".
        denied_words = {t for t, d in zip(clean, denied, strict=True) if d}
        distinct = set(option) - prompt.keys()
        # A word all options share cannot tell them apart; one only this option has says most.
        # A number's rarity says nothing about whether it is the answer ("8" is rarer than "2"):
        # every number weighs the same.
        weight = {t: (_NUMBER_IDF if is_number(t) else idf(t)) / shared[t] for t in distinct}
        total = sum(weight.values())
        found = sum(
            w
            for t, w in weight.items()
            if t in index.affirmed or (t in denied_words and t in index.vocabulary)
        )
        mentioned = sum(w for t, w in weight.items() if t in index.vocabulary)
        backed = sum(
            w
            for t, w in weight.items()
            if t in claimed or (t in denied_words and t in index.vocabulary)
        )
        own = sum(w for t, w in weight.items() if t in index.own_work)
        best_sentence, best_value, best_run, best_near = None, 0.0, 0, 0.0
        for segment, where in zip(index.segments, asked_words.positions, strict=True):
            hits = [t for t in weight if t in segment.positions]
            if not hits:
                continue
            mass = sum(weight[t] for t in hits)
            asked = sum(w for t, w in prompt.items() if t in where) / prompt_mass
            value = mass * (0.25 + asked)
            if value > best_value:
                best_sentence, best_value = segment.text, value
            near = sum(weight[t] * _closeness(t, segment, where, locating) for t in hits)
            best_near = max(best_near, near)
            if len(option) > 1:
                best_run = max(best_run, _longest_run(option, segment))
        numbers = [t for t in set(option) if is_number(t)]
        numbers_found = [t for t in numbers if t in index.vocabulary]
        pairs = list(itertools.pairwise(option))
        share = 1.0 / total if total else 0.0
        textual.append(
            [
                found * share,
                math.log1p(found),
                0.0,  # dominance, filled in below
                best_run / len(option) if best_run > 1 else 0.0,
                float(sum(1 for p in pairs if p in index.bigrams)),
                math.log1p(best_value),
                math.log1p(best_near),
                (mentioned - found) * share,
                0.0 if prior_asked else (mentioned - own) * share,
                float(len(numbers_found)),
                float(len(numbers) - len(numbers_found)),
                0.0,  # proximity_lead, filled in below
                backed * share,
                0.0,  # backed_dominance, filled in below
            ]
        )
        words = re.findall(r"[a-z]+", raw.lower())
        style.append(
            [
                math.log1p(len(raw.split())),  # turned into "longer" below
                # An absolute the paper itself uses ("only public data") is the paper's claim,
                # not a distractor's overstatement.
                float(sum(1 for w in words if w in _ABSOLUTES and w not in index.plain_words)),
                sum(1 for t in set(option) if t in prompt) / len(set(option)) if option else 0.0,
            ]
        )
        evidence.append(best_sentence)
    for share, lead in _LEADS:
        fracs = [row[share] for row in textual]
        for i, row in enumerate(textual):
            others = [f for j, f in enumerate(fracs) if j != i]
            row[lead] = fracs[i] - max(others, default=0.0)
    lengths = [row[0] for row in style]
    for i, row in enumerate(style):
        others = max((n for j, n in enumerate(lengths) if j != i), default=lengths[i])
        row[0] = max(-1.0, min(1.0, (lengths[i] - others) / _LONGER_SPAN))
    rows = [t + s for t, s in zip(textual, style, strict=True)]
    return _Scored(rows, evidence, negated, avoided)


def option_features(
    paper: Paper,
    question: Question,
    *,
    index: PaperIndex | None = None,
    frequencies: DocumentFrequencies | None = None,
) -> list[list[float]]:
    """One row of `FEATURE_NAMES` values per option (for fitting and inspection)."""
    freq = frequencies or shipped_frequencies()
    return _score(paper, question, index or PaperIndex(paper), freq.idf).features


# -- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """Weights of the conditional logit (one set for plain, one for negated questions), the
    Platt calibration of the winner's probability, and the document frequencies."""

    weights: tuple[float, ...]
    negated_weights: tuple[float, ...]
    calibration: tuple[float, float]
    frequencies: DocumentFrequencies
    #: The habit-free second opinion on plain questions (`HABIT_FREE_FEATURES`); empty: none.
    habit_free_weights: tuple[float, ...] = ()
    habit_free_calibration: tuple[float, float] = (1.0, 0.0)
    #: The same two models fitted on digests whose summaries state the answers, and their
    #: share in the pooled probabilities (see `option_probabilities`); empty: not pooled.
    stated_weights: tuple[float, ...] = ()
    stated_negated_weights: tuple[float, ...] = ()
    stated_share: float = 0.0


@cache
def shipped_model() -> Model:
    """The model fitted by `benchmarks/answers_eval.py --refit` and shipped as constants."""
    return Model(
        WEIGHTS,
        NEGATED_WEIGHTS,
        (CALIBRATION_A, CALIBRATION_B),
        shipped_frequencies(),
        HABIT_FREE_WEIGHTS,
        (HABIT_FREE_CALIBRATION_A, HABIT_FREE_CALIBRATION_B),
        STATED_WEIGHTS,
        STATED_NEGATED_WEIGHTS,
        STATED_SHARE,
    )


_PLAIN_COLUMNS = tuple(FEATURE_NAMES.index(name) for name in PLAIN_FEATURES)
_NEGATED_COLUMNS = tuple(FEATURE_NAMES.index(name) for name in NEGATED_FEATURES)
_HABIT_FREE_COLUMNS = tuple(FEATURE_NAMES.index(name) for name in HABIT_FREE_FEATURES)
#: Columns of the plain model's rows that measure the text (not the quiz writer's style).
_TEXT_COLUMNS = tuple(PLAIN_FEATURES.index(name) for name in HABIT_FREE_FEATURES)

#: See `decide`: the confidence of an answer the paper's text does not favour at all.
UNBACKED_CAP = 0.85
#: No inference from a summary is certain (the questions were written from the full paper):
#: an inferred answer never shows more than 99%, whatever the calibration says.
MAX_INFERRED_CONFIDENCE = 0.99


def model_rows(rows: Sequence[Sequence[float]], negated: bool) -> list[list[float]]:
    """The columns of `option_features` rows that the plain or the negated model reads."""
    if negated:
        return [[row[i] for i in _NEGATED_COLUMNS] for row in rows]
    return [[row[i] for i in _PLAIN_COLUMNS] for row in rows]


def habit_free_rows(rows: Sequence[Sequence[float]]) -> list[list[float]]:
    """The columns of `option_features` rows that the habit-free model reads."""
    return [[row[i] for i in _HABIT_FREE_COLUMNS] for row in rows]


def _scores(weights: Sequence[float], rows: Sequence[Sequence[float]]) -> list[float]:
    return [sum(w * x for w, x in zip(weights, row, strict=True)) for row in rows]


def habit_free_probabilities(
    weights: Sequence[float], rows: Sequence[Sequence[float]]
) -> list[float]:
    return softmax(_scores(weights, habit_free_rows(rows)))


def softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def _log_softmax(weights: Sequence[float], rows: Sequence[Sequence[float]]) -> list[float]:
    scores = _scores(weights, rows)
    top = max(scores)
    total = math.log(sum(math.exp(s - top) for s in scores)) + top
    return [s - total for s in scores]


def option_probabilities(
    model: Model, rows: Sequence[Sequence[float]], negated: bool
) -> list[float]:
    """Each option's probability: the corpus model's, pooled (log-linear, `stated_share`) with
    the model fitted on digests that state their answers. The real digests' questions were
    written from the full papers, so their fit learns to distrust an option the summary
    repeats word for word; in a digest whose summary states the answer, that option is it."""
    columns = model_rows(rows, negated)
    scores = _log_softmax(model.negated_weights if negated else model.weights, columns)
    stated = model.stated_negated_weights if negated else model.stated_weights
    if stated and model.stated_share:
        share = model.stated_share
        other = _log_softmax(stated, columns)
        scores = [(1 - share) * a + share * b for a, b in zip(scores, other, strict=True)]
    return softmax(scores)


def decide(
    model: Model, rows: Sequence[Sequence[float]], negated: bool
) -> tuple[int, float, list[float]]:
    """The chosen option, its confidence and every option's (uncalibrated) probability.

    The winner is the pooled model's (`option_probabilities`). Its confidence, for a plain
    question, is the mean of two calibrated opinions: the pooled model's, and that of a
    text-only ("habit-free") model fitted without the `STYLE_FEATURES`. Quiz writers of the
    real digests make the right option the longest and keep "only" for distractors, and the
    pooled model leans on that; a writer who does not (hand-made digests with long, specific
    distractors, or a right answer that says "only") made it confidently wrong, and the
    text-only opinion pulls such answers under the threshold. Negated questions have no style
    features to begin with. The confidence is at most `MAX_INFERRED_CONFIDENCE`. An answer
    the text-only part of the score does not put ahead of every rival rests on the quiz
    writer's habits alone (the longer option…): those are
    right on the real digests, but a digest from another writer need not share them, so its
    confidence is capped at `UNBACKED_CAP`, below the default unsure threshold. ("What
    regulariser could the authors remove?", weight decay or dropout, in a digest that names
    neither: the longer option alone would give 0.90.) The cap reaches no further: an earlier
    one on every answer the text favoured by less than 1.5 logits made 9% of all answers
    unsure that were, on held-out months, right as often as their confidence said.
    """
    probabilities = option_probabilities(model, rows, negated)
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    confidence = calibrate(probabilities[best], *model.calibration)
    if not negated and model.habit_free_weights:
        second = habit_free_probabilities(model.habit_free_weights, rows)[best]
        confidence = (confidence + calibrate(second, *model.habit_free_calibration)) / 2
    if not negated and len(rows) > 1:
        plain = model_rows(rows, negated=False)
        text = [sum(model.weights[i] * row[i] for i in _TEXT_COLUMNS) for row in plain]
        if text[best] <= max(t for i, t in enumerate(text) if i != best):
            confidence = min(confidence, UNBACKED_CAP)
    return best, min(confidence, MAX_INFERRED_CONFIDENCE), probabilities


def calibrate(probability: float, a: float = CALIBRATION_A, b: float = CALIBRATION_B) -> float:
    """Platt map of the winner's probability to a confidence."""
    p = min(max(probability, 1e-6), 1 - 1e-6)
    z = a * math.log(p / (1 - p)) + b
    return 1.0 / (1.0 + math.exp(-z))


def infer_answer(
    paper: Paper,
    question: Question,
    *,
    index: PaperIndex | None = None,
    model: Model | None = None,
) -> Inference:
    """The most likely option of `question` given `paper`'s text, its confidence and evidence.

    `index` lets a caller reuse one `PaperIndex` for all questions of a paper; `model` defaults
    to the shipped fit (the benchmark passes the ones it fits on training months).
    """
    model = model or shipped_model()
    scored = _score(paper, question, index or PaperIndex(paper), model.frequencies.idf)
    best, confidence, probabilities = decide(model, scored.features, scored.negated)
    evidence = scored.evidence[best]
    if scored.negated and not scored.avoided:
        # The answer is the option the text does not back; what backs the others is the proof.
        others = [e for i, e in enumerate(scored.evidence) if i != best and e]
        evidence = others[0] if others else None
    return Inference(
        answer=best,
        confidence=round(confidence, 4),
        evidence=evidence,
        probabilities=tuple(round(p, 4) for p in probabilities),
        negated=scored.negated,
    )
