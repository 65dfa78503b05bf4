"""The features of one option of one question: how well the paper's own text supports the words
distinctive to that option, and a few style features (see `FEATURE_NAMES`).

Local context matters where several options occur in one sentence ("eight experts, of which a
router picks two"): an option's words are scored by how close they sit to the question's words
(clause breaks count as distance), and by their lead over the rival options; every number
weighs the same, whatever its rarity; a multi-word name in the question ("Mixtral 8x7B") counts
as one clue; an acronym in the question finds its spelled-out words ("TRPO"). Mentions under a
negation ("without X", "no X", "eliminates X") or only in the previous-research field are not
what the paper claims for its own work: they count against an option of a plain question, and
they are what a negated question ("which is NOT…") or an avoidance question ("what does PPO
avoid?") asks for — both are read by the negated model (`flashcards.answers.model`).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from flashcards.answers.text import (
    ABSOLUTES,
    CLAUSE,
    NEGATION,
    STOPWORDS,
    asks_about_prior_work,
    asks_what_is_avoided,
    is_negated,
    marked_tokens,
    scoped,
    tokens,
    unmarked,
)
from flashcards.model import FIELD_NAMES, INNER_ARROW, STEP_SEPARATOR, Paper, Question

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

_LONGER_SPAN = 0.2  # log-length difference at which an option counts as fully "longer"
_WINDOW = 30  # words per chunk of a run-on text such as the workflow line
#: The most words a piece of text quoted as evidence holds: a longer sentence (or step) is
#: read, and quoted, in windows of `_WINDOW` words.
LONGEST_QUOTE_WORDS = _WINDOW + _WINDOW // 3
_REACH = 6  # how far (in content words) an option word looks for the question's words
_NUMBER_IDF = 5.0  # the evidence weight of any number (see `_measure`)

_CLAUSE_PENALTY = 4  # extra distance for crossing a clause break

#: The whitespace after a sentence's last character, in group 1 (the search starts at that
#: character: faster than a pattern opening on a look-behind).
_SENTENCE_END = re.compile(r"[.!?;](\s+)(?=\S)")

# -- document frequencies ------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentFrequencies:
    """How many of `documents` papers use each stem: rare words weigh more as evidence."""

    documents: int
    counts: dict[str, int]
    #: idf of each token asked so far (every question asks about the same few thousand words).
    _known: _IdfTable = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_known", _IdfTable(self.documents, self.counts))

    def idf(self, token: str) -> float:
        return self._known[token]

    @property
    def idf_lookup(self) -> Callable[[str], float]:
        """`idf` as a dictionary look-up (no Python call once a token is known: inference asks
        for tens of thousands)."""
        return self._known.__getitem__

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


class _IdfTable(dict[str, float]):
    """The idf of each token asked so far, worked out when first asked."""

    def __init__(self, documents: int, counts: dict[str, int]) -> None:
        super().__init__()
        self.documents = documents
        self.counts = counts

    def __missing__(self, token: str) -> float:
        found = self[token] = math.log((self.documents + 1) / (self.counts.get(token, 0) + 1)) + 1.0
        return found


def _paper_texts(paper: Paper) -> list[str]:
    return [paper.title, *(paper.fields.get(name, "") for name in FIELD_NAMES)]


# -- the paper's text, indexed -------------------------------------------------------------


class _Segment(NamedTuple):
    """A sentence (or a window of run-on text) of one field. (A named tuple: a paper has
    dozens, and a frozen dataclass sets each field through `object.__setattr__`.)"""

    field: str
    text: str
    tokens: tuple[str, ...]
    negated: tuple[bool, ...]  # token i follows a negation cue closely ("without X")
    positions: dict[str, tuple[int, ...]]
    clauses: tuple[int, ...]  # clause number of token i (split at commas, "and", "but"…)


def _segment(field_name: str, text: str) -> _Segment | None:
    # (Not through `marked_tokens`' cache: a paper's sentences are its own, asked once.)
    marked = marked_tokens.__wrapped__(text)
    positions: dict[str, tuple[int, ...]] = {}
    if NEGATION in marked:
        clean, negated, clauses = scoped(marked)
        if not clean:
            return None
        for i, token in enumerate(clean):
            found = positions.get(token)
            positions[token] = (i,) if found is None else (*found, i)  # most words occur once
        return _Segment(field_name, text, tuple(clean), tuple(negated), positions, tuple(clauses))
    # Most sentences deny nothing: `scoped` and the places above in one pass.
    clean = []
    clauses = []
    clause = i = 0  # i: the token's place among the clean tokens
    for token in marked:
        if token == CLAUSE:
            clause += 1
            continue
        found = positions.get(token)
        positions[token] = (i,) if found is None else (*found, i)
        clean.append(token)
        clauses.append(clause)
        i += 1
    if not clean:
        return None
    return _Segment(
        field_name, text, tuple(clean), (False,) * len(clean), positions, tuple(clauses)
    )


def _sentences(field_name: str, text: str) -> list[str]:
    """The pieces of a field that evidence can quote: its sentences, or for a flow chart of
    steps, runs of whole steps (about `_WINDOW` words, each run starting on the last step of
    the one before) quoted with their arrows. An arrow inside a step (`INNER_ARROW`) counts as
    a separator here, as it did before steps kept theirs: the fitted model saw the runs so cut
    (`steps_around` widens a quote that cuts a step back to whole steps)."""
    if field_name == "workflow":
        text = text.replace(INNER_ARROW, STEP_SEPARATOR)
    if field_name != "workflow" or STEP_SEPARATOR not in text:
        return _split_sentences(text.strip())
    steps = [step.strip() for step in text.split(STEP_SEPARATOR) if step.strip()]
    runs: list[str] = []
    start = 0
    while start < len(steps):
        end, words = start + 1, len(steps[start].split())
        while end < len(steps) and words + len(steps[end].split()) <= _WINDOW:
            words += len(steps[end].split())
            end += 1
        runs.append(STEP_SEPARATOR.join(steps[start:end]))
        if end == len(steps):
            break
        start = end - 1 if end - start > 1 else end
    return runs


def _split_sentences(text: str) -> list[str]:
    """`text` split at the whitespace after each ".", "!", "?" or ";" (and not at its end)."""
    pieces: list[str] = []
    start = 0
    for end in _SENTENCE_END.finditer(text):
        pieces.append(text[start : end.start(1)])
        start = end.end(1)
    pieces.append(text[start:])
    return pieces


class PaperIndex:
    """A paper's text split into sentences (and windows of run-on text), with word sets."""

    def __init__(self, paper: Paper) -> None:
        segments: list[_Segment] = []
        named = [("title", paper.title), *((n, paper.fields.get(n, "")) for n in FIELD_NAMES)]
        for field_name, text in named:
            for sentence in _sentences(field_name, text):
                words = sentence.split()
                if len(words) <= LONGEST_QUOTE_WORDS:
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
        # One pass over the segments fills every word set below (each question of the paper
        # reads them, so they are built once, here).
        holding: defaultdict[str, list[int]] = defaultdict(list)
        unnegated: list[Iterable[str]] = []  # per segment, its words outside a negation
        denying: list[int] = []  # the segments with a word under a negation
        for number, segment in enumerate(segments):
            distinct = segment.positions  # each distinct word of the segment, once
            for word in distinct:
                holding[word].append(number)
            if True in segment.negated:
                pairs = zip(segment.tokens, segment.negated, strict=True)
                unnegated.append([t for t, negated in pairs if not negated])
                denying.append(number)
            else:
                unnegated.append(distinct)
        holding.default_factory = None  # (read as a plain dict from here on)
        own = [n for n, segment in enumerate(segments) if segment.field != "previous_research"]
        chain = itertools.chain.from_iterable
        vocabulary = frozenset(holding)
        own_work = (
            vocabulary
            if len(own) == len(segments)
            else frozenset(chain(segments[n].positions for n in own))
        )
        # (Without a negation, the words outside one are all the words: most papers.)
        affirmed = frozenset(chain(unnegated)) if denying else vocabulary
        claimed = (
            frozenset(chain(unnegated[n] for n in own))
            if not set(denying).isdisjoint(own)
            else own_work
        )
        self.vocabulary: frozenset[str] = vocabulary
        #: Words the text uses at least once outside a negation ("without X" does not back X).
        self.affirmed: frozenset[str] = affirmed
        #: Words found outside the previous-research field (which describes others' work).
        self.own_work: frozenset[str] = own_work
        #: Words the paper affirms of its own work: outside a negation and outside the
        #: previous-research field.
        self.claimed: frozenset[str] = claimed
        #: The segments (by number, ascending) holding each word: an option is measured only
        #: against the segments holding one of its words, a question's words located only there.
        self.holding: dict[str, list[int]] = holding
        self._texts = [text for _, text in named]
        self._acronyms: dict[str, tuple[tuple[int, ...], ...]] = {}

    @functools.cached_property
    def spread(self) -> Counter[str]:
        """In how many segments each word occurs: the paper's own name is everywhere and says
        little about *where* the answer is; a word of one sentence says a lot."""
        return Counter({t: len(n) for t, n in self.holding.items()})

    @functools.cached_property
    def plain_words(self) -> frozenset[str]:
        """Every lower-cased word of the text, stop words included (for `absolutes`: only an
        option with an absolute word reads it)."""
        return frozenset(_LOWER_WORD.findall(" ".join(self._texts).lower()))

    def side_by_side(self, first: str, second: str) -> list[int]:
        """The segments (by number, ascending) where `second` directly follows `first`. (Asked
        of an option's word pairs only: cheaper than a set of every pair of the text.)"""
        with_first = self.holding.get(first)
        if with_first is None:
            return []
        with_second = self.holding.get(second)
        if with_second is None:
            return []
        found: list[int] = []
        for number in with_first:
            if number in with_second:
                positions = self.segments[number].positions
                after = positions[second]
                for place in positions[first]:
                    if place + 1 in after:
                        found.append(number)
                        break
        return found

    def acronym_positions(self, acronym: str) -> tuple[tuple[int, ...], ...]:
        """Per segment, the token positions where words spelling `acronym` begin: a question
        may say "TRPO" where the text spells out "trust region policy optimization"."""
        if acronym not in self._acronyms:
            self._acronyms[acronym] = tuple(_spelled_out(s.text, acronym) for s in self.segments)
        return self._acronyms[acronym]


_RAW_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_LOWER_WORD = re.compile(r"[a-z]+")
#: The words of `_LOWER_WORD` that are `ABSOLUTES`, found in one search (as whole words: no
#: letter on either side).
_ABSOLUTE_WORD = re.compile(r"(?<![a-z])(?:" + "|".join(sorted(ABSOLUTES)) + r")(?![a-z])")
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
        if first.group()[0].lower() != acronym[0] or first.group().lower() in STOPWORDS:
            continue
        k, j = 0, i
        while k < len(acronym) and j < len(words):
            word = words[j].group()
            if word[0].lower() == acronym[k]:
                k += 1
            elif word.lower() not in STOPWORDS:
                break
            j += 1
        if k == len(acronym):
            found.append(len(tokens(text[: first.start()])))
    return tuple(found)


# -- features --------------------------------------------------------------------------------


def _longest_run(option: Sequence[str], segment: _Segment) -> int:
    """Length of the longest run of consecutive option tokens found consecutively in segment
    (their longest common substring): for each option token in turn, the length of the run
    ending at each of its positions is one more than the run ending just before it."""
    best = 0
    positions = segment.positions
    ending: dict[int, int] = {}  # segment position -> length of the run ending there
    for token in option:
        places = positions.get(token)
        if places is None:
            ending = {}
        elif ending:
            if len(places) == 1:  # most words occur once in a sentence
                pos = places[0]
                length = ending.get(pos - 1, 0) + 1
                ending = {pos: length}
                if length > best:
                    best = length
                continue
            ending = {pos: ending.get(pos - 1, 0) + 1 for pos in places}
            best = max(best, *ending.values())
        else:  # every run starts here
            ending = dict.fromkeys(places, 1)
            best = max(best, 1)
    return best


class _Asked(NamedTuple):
    """The question's words as located in the paper's text."""

    weights: dict[str, float]  # idf of each word of the question
    #: idf / (1 + number of segments holding the word): the paper's own name is everywhere and
    #: says little about *where* the answer is; a word of one sentence says a lot.
    locating: dict[str, float]
    #: Per segment holding a question word (by number): where each of its words occurs there.
    positions: dict[int, dict[str, tuple[int, ...]]]
    #: Per segment: the share of the question's weight (idf) found in it (every option of the
    #: question reads it, so it is worked out once, here).
    shares: list[float]
    #: Per segment: (places, `locating` weight) of each question word found in it, in the
    #: order of its `positions` (what `_closeness` reads, ready for it).
    near: list[tuple[tuple[tuple[int, ...], float], ...]]
    #: (word, segment) -> `_closeness` of the word there, for words several options share.
    closeness: dict[tuple[str, int], float]
    #: The sums of `weights` and of `locating` (1.0 when 0), which every segment divides by.
    mass: float
    locating_mass: float


def _raw_words(text: str) -> list[str]:
    return [w.strip("?!.,:;()[]\"'“”‘’") for w in text.split()]


def _asked(prompt: str, index: PaperIndex, idf: Callable[[str], float]) -> _Asked:
    # (Not through the caches of `tokens`: each prompt is asked about once.)
    weights = {t: idf(t) for t in unmarked(marked_tokens.__wrapped__(prompt))}
    holding = index.holding
    segments = index.segments
    positions: dict[int, dict[str, tuple[int, ...]]] = {}
    spread: dict[str, int] = {}  # in how many segments each word occurs
    for word in weights:  # in the question's order, as each segment's dict lists them
        numbers = holding.get(word, ())
        spread[word] = len(numbers)
        for number in numbers:
            where = positions.get(number)
            if where is None:
                positions[number] = {word: segments[number].positions[word]}
            else:
                where[word] = segments[number].positions[word]
    raw = _raw_words(prompt)
    spelled = False  # did an acronym's spelled-out words join `positions`?
    for word in filter(_ACRONYM.match, raw):
        for token in tokens(word):
            if token in index.vocabulary or not token.isalpha():
                continue
            spelled = True
            found = index.acronym_positions(token.removesuffix("s") if word[-1] == "s" else token)
            for number, places in enumerate(found):
                if places:
                    positions.setdefault(number, {})[token] = places
            spread[token] = sum(1 for places in found if places)
    locating = {t: w / (1 + spread.get(t, 0)) for t, w in weights.items()}
    # A name of several words ("Mixtral 8x7B") is one clue, not three: its words share the
    # weight of one, so that a sentence naming the model does not outweigh the one that
    # holds what the question asks about it.
    run: list[str] = []  # the name words in a row so far
    for word in [*raw[1:], ""]:  # ("" ends the last run)
        # (A word opening on a lower-case ASCII letter is no name: most are skipped unsearched.)
        if word and not "a" <= word[0] <= "z" and _NAME_WORD.match(word):
            run.append(word)
            continue
        if not run:
            continue
        # (In order, not as a set: the sum below must not depend on the string hash seed.)
        names = list(dict.fromkeys(t for w in run for t in tokens(w) if t in locating))
        if len(names) > 1:
            share = sum(locating[t] for t in names) / len(names) ** 2
            locating.update({t: share for t in names})
        run = []
    mass = sum(weights.values()) or 1.0
    # A segment without the question's words: the sum of nothing over `mass`, nothing near.
    shares = [0.0] * len(segments)
    near: list[tuple[tuple[tuple[int, ...], float], ...]] = [()] * len(segments)
    if not spelled:  # each `where` holds question words only, in the question's order
        weight_of, locating_of = weights.__getitem__, locating.__getitem__
        for number, where in positions.items():
            shares[number] = sum(map(weight_of, where)) / mass
            near[number] = tuple(zip(where.values(), map(locating_of, where), strict=True))
    else:
        items = list(weights.items())
        for number, where in positions.items():
            shares[number] = sum([w for t, w in items if t in where]) / mass
            # (An acronym's token that the question's own tokens lack weighs nothing.)
            near[number] = tuple([(places, locating.get(t, 0.0)) for t, places in where.items()])
    return _Asked(
        weights,
        locating,
        positions,
        shares,
        near,
        {},
        mass,
        sum(locating.values()) or 1.0,
    )


#: 1 / √distance divides by these (a table, not a call per question word).
_ROOTS = tuple(math.sqrt(max(1, distance)) for distance in range(_REACH + 1))


def _closeness(
    token: str,
    segment: _Segment,
    where: dict[str, tuple[int, ...]],
    weights: dict[str, float],
    total: float | None = None,
) -> float:
    """How tightly `token` sits among the question's words in `segment` (found at `where`): the
    weighted sum of 1/distance over question words within `_REACH` (a clause break counts as
    extra distance), at the token's best occurrence, scaled by the question's total weight
    (`total`: the sum of `weights`, when the caller has it)."""
    if total is None:
        total = sum(weights.values()) or 1.0
    near = tuple((places, weights[word]) for word, places in where.items())
    return _nearness(segment.positions.get(token, ()), segment.clauses, near, total)


def _nearness(
    at: Sequence[int],
    clauses: Sequence[int],
    near: Sequence[tuple[Sequence[int], float]],
    total: float,
) -> float:
    """`_closeness` of a token found `at` these places, given the question's words' (places,
    weight) in `near`."""
    best = 0.0
    for i in at:
        value = 0.0
        clause = clauses[i]
        for places, weight in near:
            # Clause numbers never decrease along a segment, so the distance grows with |i - j|
            # on either side of i: the nearest place is one of the two neighbours of i.
            if len(places) == 1:  # most words occur once in a sentence: no search
                j = places[0]
                # (The clause number differs in the same direction as the place: the sum is
                # the distance, or minus it.)
                nearest = j - i + _CLAUSE_PENALTY * (clauses[j] - clause)
                if nearest < 0:
                    nearest = -nearest
            else:
                after = bisect.bisect_left(places, i)
                nearest = _REACH + 1
                if after < len(places):
                    j = places[after]
                    nearest = j - i + _CLAUSE_PENALTY * (clauses[j] - clause)
                if after:
                    j = places[after - 1]
                    nearest = min(nearest, i - j + _CLAUSE_PENALTY * (clause - clauses[j]))
            if nearest <= _REACH:
                value += weight / _ROOTS[nearest]
        share = value / total
        if share > best:  # (`max` without its call)
            best = share
    return best


#: (feature, its lead over the best rival option): set once every option is measured.
_LEADS: tuple[tuple[str, str], ...] = (
    ("support_frac", "dominance"),
    ("qa_proximity", "proximity_lead"),
    ("backed_frac", "backed_dominance"),
)
#: Where each feature stands in a row (`FEATURE_NAMES`): rows are lists filled by place.
_COLUMN = {name: place for place, name in enumerate(FEATURE_NAMES)}
_LEAD_COLUMNS = tuple((_COLUMN[base], _COLUMN[lead]) for base, lead in _LEADS)
_LONGER_COLUMN = _COLUMN["longer"]


@dataclass(frozen=True)
class Scored:
    """The features of every option of one question, and what the models need besides."""

    #: One row per option: the values of `FEATURE_NAMES`, in that order.
    features: list[list[float]]
    evidence: list[str | None]  # per option, the sentence that supports it best
    negated: bool  # read by the negated model (see `asks_for_unclaimed`)
    avoided: bool  # "what does X avoid": the answer's own sentence is the evidence


#: What one option's own text measures, before it is compared with its rivals: its row of
#: `FEATURE_NAMES` values (the leads and "longer" still 0.0), the log of its word count
#: (compared into "longer") and its evidence. (A plain tuple: one per option.)
_Measured = tuple[list[float], float, str | None]


def _measure(
    raw: str,
    marked: tuple[str, ...],
    option: tuple[str, ...],
    shared: dict[str, int],
    asked_words: _Asked,
    index: PaperIndex,
    idf: Callable[[str], float],
    prior_asked: bool,
) -> _Measured:
    """The features of one option (`raw`, its `marked_tokens` and its `tokens`) on their own."""
    prompt = asked_words.weights
    vocabulary = index.vocabulary
    affirmed = index.affirmed
    own_work = index.own_work
    claimed = affirmed if prior_asked else index.claimed
    denied_words: Container[str] = ()
    if NEGATION in marked:
        # "with no gradient updates" is backed by a text saying "no gradient updates".
        clean, denied, _ = scoped(marked)
        denied_words = {t for t, d in zip(clean, denied, strict=True) if d}
    # In the option's order, not a set's: the sums below add floats in this order, and a
    # set's order changes with the string hash seed of each run (two options that tie could
    # then swap from one build of the same digests to the next).
    # A word all options share cannot tell them apart; one only this option has says most.
    # A number's rarity says nothing about whether it is the answer ("8" is rarer than "2"):
    # every number weighs the same.
    weight = {
        t: (_NUMBER_IDF if t[0].isdigit() else idf(t)) / shared[t]
        for t in dict.fromkeys(option)
        if t not in prompt
    }
    total = sum(weight.values())
    # The weights each sum below adds, in the order of `weight` (one pass collects all four).
    found_weights: list[float] = []
    mentioned_weights: list[float] = []
    backed_weights: list[float] = []
    own_weights: list[float] = []
    # Only the segments holding one of the option's distinctive words count (in text order),
    # each with the words it holds and their weights (in the order of `weight`).
    hits_in: dict[int, tuple[list[str], list[float]]] = {}
    holding = index.holding
    for t, w in weight.items():
        held_in = holding.get(t)
        if held_in is None:  # not in the text (`vocabulary`)
            continue
        mentioned_weights.append(w)
        denied_here = t in denied_words
        if t in affirmed or denied_here:
            found_weights.append(w)
        if t in claimed or denied_here:
            backed_weights.append(w)
        if t in own_work:
            own_weights.append(w)
        for n in held_in:
            found_in = hits_in.get(n)
            if found_in is None:
                hits_in[n] = ([t], [w])
            else:
                found_in[0].append(t)
                found_in[1].append(w)
    found = sum(found_weights)
    mentioned = sum(mentioned_weights)
    backed = sum(backed_weights)
    own = sum(own_weights)
    best_sentence: str | None = None
    best_value = best_near = 0.0
    best_run = 0
    segments = index.segments
    # A run of two words ("phrase") is one of the option's word pairs side by side; a run of
    # three or more holds two pairs in a row, both side by side in one segment: only there is
    # the longest run searched (elsewhere it is two words where a pair is, else at most one).
    found_pairs = 0
    paired: set[int] = set()  # the segments where a pair is side by side
    chained: set[int] = set()  # the segments where two pairs in a row are
    before: list[int] = []  # the segments where the option's previous pair is side by side
    side_by_side = index.side_by_side
    for first, second in itertools.pairwise(option):
        found_at = side_by_side(first, second)
        if found_at:
            found_pairs += 1
            paired.update(found_at)
            if before:
                chained.update(set(before).intersection(found_at))
        before = found_at
    if hits_in:
        closeness = asked_words.closeness
        shares = asked_words.shares
        near_words = asked_words.near
        total_locating = asked_words.locating_mass
        for number, (hits, masses) in sorted(hits_in.items()):
            mass = sum(masses)
            value = mass * (0.25 + shares[number])
            if value > best_value:
                best_sentence, best_value = segments[number].text, value
            near = near_words[number]
            if near:  # else every closeness is 0
                nears = []
                segment = segments[number]
                positions = segment.positions
                clauses = segment.clauses
                for t, w in zip(hits, masses, strict=True):
                    if shared[t] == 1:  # no other option asks for this word's closeness
                        close = _nearness(positions[t], clauses, near, total_locating)
                    else:
                        known = closeness.get((t, number))
                        if known is None:
                            close = _nearness(positions[t], clauses, near, total_locating)
                            closeness[t, number] = close
                        else:
                            close = known
                    nears.append(w * close)
                near_here = sum(nears)
                if near_here > best_near:  # (`max` without its call, here and below)
                    best_near = near_here
        # (Only the segments holding a distinctive word of the option are searched for a run.)
        if found_pairs and not paired.isdisjoint(hits_in):
            best_run = 2
            for number in chained.intersection(hits_in):  # (the largest: in any order)
                run = _longest_run(option, segments[number])
                if run > best_run:
                    best_run = run
    kinds = set(option)
    numbers = [t for t in kinds if t[0].isdigit()]
    numbers_found = [t for t in numbers if t in vocabulary]
    per_weight = 1.0 / total if total else 0.0
    absolutes = _ABSOLUTE_WORD.findall(raw.lower())
    # The row of `FEATURE_NAMES`, in that order (each value's feature named beside it).
    row = [
        found * per_weight,  # support_frac
        math.log1p(found),  # support_sum
        0.0,  # dominance
        best_run / len(option) if best_run > 1 else 0.0,  # phrase
        float(found_pairs),  # bigrams
        math.log1p(best_value),  # qa_sentence
        math.log1p(best_near),  # qa_proximity
        (mentioned - found) * per_weight,  # negated_mention
        0.0 if prior_asked else (mentioned - own) * per_weight,  # prior_work_only
        float(len(numbers_found)),  # numbers_found
        float(len(numbers) - len(numbers_found)),  # numbers_missing
        0.0,  # proximity_lead
        backed * per_weight,  # backed_frac
        0.0,  # backed_dominance
        0.0,  # longer
        # An absolute the paper itself uses ("only public data") is the paper's claim, not a
        # distractor's overstatement. (absolutes)
        float(sum(1 for w in absolutes if w not in index.plain_words)) if absolutes else 0.0,
        len(kinds.intersection(prompt)) / len(kinds) if option else 0.0,  # question_echo
    ]
    return row, math.log1p(len(raw.split())), best_sentence


def _compared(rows: list[list[float]], lengths: Sequence[float]) -> list[list[float]]:
    """`rows` of `FEATURE_NAMES` values (made by `_measure` for this question alone) completed:
    each option's own features, its lead over the best rival (`_LEADS`), and whether it is the
    longest by its log word count in `lengths` ("longer", bounded to [-1, 1])."""
    # The best rival of an option is the best option, or for the best itself the runner-up.
    for base, lead in _LEAD_COLUMNS:
        first, best, second = _best_two([row[base] for row in rows])
        for i, row in enumerate(rows):
            row[lead] = row[base] - (second if i == first else best)
    first, best, second = _best_two(lengths)
    for i, (row, length) in enumerate(zip(rows, lengths, strict=True)):
        longest_rival = length if len(rows) == 1 else (second if i == first else best)
        row[_LONGER_COLUMN] = max(-1.0, min(1.0, (length - longest_rival) / _LONGER_SPAN))
    return rows


def _best_two(values: Sequence[float]) -> tuple[int, float, float]:
    """Where the largest of `values` is, it, and the largest of the others (0.0: none)."""
    # (A stable sort keeps equals in their order, as `max` keeps the first of equals it meets:
    # the largest is the first of the largest, the runner-up the largest of the others.)
    ordered = sorted(values, reverse=True)
    return values.index(ordered[0]), ordered[0], ordered[1] if len(ordered) > 1 else 0.0


def score_options(
    paper: Paper,
    question: Question,
    index: PaperIndex,
    idf: Callable[[str], float],
) -> Scored:
    """Every option of `question` measured against `paper`'s text (`index`)."""
    asked_words = _asked(question.prompt, index, idf)
    # (Not through `marked_tokens`' cache: each question's options are asked about once.)
    marks = list(map(marked_tokens.__wrapped__, question.options))
    options = list(map(unmarked, marks))  # (`tokens` of each option)
    shared: dict[str, int] = {}  # in how many options each word occurs
    for option in options:
        for t in set(option):
            shared[t] = shared.get(t, 0) + 1
    avoided = asks_what_is_avoided(question.prompt)
    prior_asked = asks_about_prior_work(question.prompt)
    measured = [
        _measure(raw, marked, option, shared, asked_words, index, idf, prior_asked)
        for raw, marked, option in zip(question.options, marks, options, strict=True)
    ]
    rows, lengths, evidence = zip(*measured, strict=True)
    return Scored(
        features=_compared(list(rows), lengths),
        evidence=list(evidence),
        negated=avoided or is_negated(question.prompt),
        avoided=avoided,
    )


def option_features(
    paper: Paper,
    question: Question,
    frequencies: DocumentFrequencies,
    *,
    index: PaperIndex | None = None,
) -> list[list[float]]:
    """One row of `FEATURE_NAMES` values per option (for fitting and inspection)."""
    return score_options(paper, question, index or PaperIndex(paper), frequencies.idf).features
