"""Words of digests and quiz questions: tokens, a light stemmer, paraphrase groups, negation and
clause markers, and the question classifiers (negated, avoidance, about earlier work).

`flashcards.answers.features` measures options with these; nothing here knows about models.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _words(
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

ABSOLUTES = _words(
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
# (The comma first, its digit behind it: the search then skips from comma to comma.)
_THOUSANDS = re.compile(r",(?<=\d,)(?=\d{3}\b)")
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


#: Words that deny what follows ("without X", "no X", "unlike X"): X is then not supported.
_NEGATION_CUES = _words(
    "no not without neither nor never unlike lack lacks lacking instead rather cannot "
    "avoid avoids avoided avoiding eliminate eliminates eliminated eliminating "
    "bypass bypasses bypassed bypassing "
)
NEGATION = "¬"  # stands for a negation cue in `marked_tokens`
_NEGATION = NEGATION
_NEGATION_SCOPE = 5  # content words a negation cue reaches
#: Clause breaks: "28.4 BLEU on German, and 41.8 on French" keeps each number with its own
#: words. A placeholder word the tokenizer sees, then a marker in token streams.
CLAUSE = "qqclauseqq"
_CLAUSE = CLAUSE
_CLAUSE_BREAK = re.compile(r"[,;:()]|\s(?:and|but|while|whereas|although|though)\s|\s[-–—]\s")
#: A clause break or a token, in one pass: what `_TOKEN` finds in the text with every
#: `_CLAUSE_BREAK` replaced by `_CLAUSE` (a break starts with a character no token holds, and
#: no token with one a break starts with, so the two never compete for a position).
_PIECE = re.compile(
    r"[,;:()]|\s(?:and|but|while|whereas|although|though|[-–—])\s|" + _TOKEN.pattern
)
_BREAK_STARTS = frozenset(",;:()")


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
def marked_tokens(text: str) -> tuple[str, ...]:
    """Content tokens, with `_NEGATION` standing where the text says "no", "without", …"""
    if text.isascii():  # NFKC, "×" and Greek letters change nothing in ASCII
        text = text.lower().replace("n't", " not")
    else:
        text = unicodedata.normalize("NFKC", text).lower().replace("×", "x").replace("n't", " not")
        text = text.translate(_GREEK)
    # (Each pattern needs a comma or "per…cent": most texts skip both searches.)
    if "," in text:
        text = _THOUSANDS.sub("", text)
    if "percent" in text or "per cent" in text:
        text = _PERCENT.sub("%", text)
    return _chunked_forms(text)


#: The words that `_PIECE` reads as a clause break when whitespace stands on both sides.
_BREAK_WORDS = frozenset(("and", "but", "while", "whereas", "although", "though", "-", "–", "—"))
_BREAK_FORMS = (_CLAUSE,)


def _chunk_forms(chunk: str) -> tuple[str, ...]:
    """`_marked_form` of each piece of a text without whitespace, stop words dropped."""
    return tuple(filter(None, map(_marked_form, _PIECE.findall(chunk))))


class _ChunkForms(dict[str, tuple[str, ...]]):
    """`_chunk_forms` of each whitespace-free chunk seen (texts share most of their words),
    a break word standing for a clause break; emptied when large."""

    limit = 1 << 17

    def __missing__(self, chunk: str) -> tuple[str, ...]:
        if len(self) >= self.limit:
            self.clear()
        found = self[chunk] = _BREAK_FORMS if chunk in _BREAK_WORDS else _chunk_forms(chunk)
        return found


_CHUNK_FORMS = _ChunkForms()


def _chunked_forms(text: str) -> tuple[str, ...]:
    """`_marked_form` of each of `_PIECE.findall(text)`, stop words dropped, worked out per
    whitespace-free chunk of `text`.

    No token holds whitespace, so `_PIECE` scans each chunk from its start, as on its own,
    except a chunk of `_BREAK_WORDS` with whitespace on both sides: that is one clause break
    (taking a whitespace character on each side). Two such chunks in a row may share one
    whitespace character ("and and"): then the text is read by `_PIECE` as a whole."""
    chunks = text.split()
    if not chunks:
        return ()
    forms = list(map(_CHUNK_FORMS.__getitem__, chunks))
    if _BREAK_WORDS.isdisjoint(chunks):  # most texts: no break word to look at
        return tuple(itertools.chain.from_iterable(forms))
    breaks = [n for n, chunk in enumerate(chunks) if chunk in _BREAK_WORDS]
    if any(b - a == 1 for a, b in itertools.pairwise(breaks)):
        return tuple(filter(None, map(_marked_form, _PIECE.findall(text))))
    # A break word at either end without whitespace beyond it is a word.
    if breaks[0] == 0 and not text[0].isspace():
        forms[0] = _chunk_forms(chunks[0])
    if breaks[-1] == len(chunks) - 1 and not text[-1].isspace():
        forms[-1] = _chunk_forms(chunks[-1])
    return tuple(itertools.chain.from_iterable(forms))


@lru_cache(maxsize=65536)
def _marked_form(token: str) -> str:
    """What `marked_tokens` makes of one word or clause break: a marker, its stem, or "" for
    a stop word (the same few thousand words recur in every text, so each is worked out once)."""
    if token == _CLAUSE or token[0] in _BREAK_STARTS or token[0].isspace():
        return _CLAUSE
    if token in _NEGATION_CUES:
        return _NEGATION
    if token in STOPWORDS:
        return ""
    token = _NUMBER_WORDS.get(token, token)
    if token[0].isdigit():
        return token
    stemmed = stem(token)
    return _SYNONYMS.get(stemmed, stemmed)


@lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[str, ...]:
    """Content tokens of `text`: lower-cased, stop words dropped, words stemmed, numbers kept
    exactly with their unit ('24.5%'), number words turned into digits ('three' → '3')."""
    return unmarked(marked_tokens(text))


def unmarked(marked: tuple[str, ...]) -> tuple[str, ...]:
    """`marked_tokens` without their markers: `tokens` of the same text."""
    if _NEGATION not in marked and _CLAUSE not in marked:
        return marked
    return tuple(t for t in marked if t not in (_NEGATION, _CLAUSE))


def _may_hold(prompt: str, needles: tuple[str, ...]) -> bool:
    """False when `prompt` is ASCII and holds none of `needles` (lower case) in any case: then
    a case-blind pattern each of whose matches holds one of them cannot match. (Most prompts
    fail every classifier below, and these substring tests cost far less than the searches.)
    A prompt beyond ASCII is searched whatever it holds (case folding is subtler there)."""
    if not prompt.isascii():
        return True
    return any(map(prompt.lower().__contains__, needles))


#: What every match of `_AVOIDANCE` holds.
_AVOIDANCE_NEEDLES = (
    "avoid",
    "eliminat",
    "rid of",
    "away with",
    "dispens",
    "bypass",
    "sidestep",
    "no longer",
)


def asks_what_is_avoided(prompt: str) -> bool:
    """Does the question ask what a method avoids, eliminates or no longer needs?"""
    if not _may_hold(prompt, _AVOIDANCE_NEEDLES):
        return False
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


#: What every match of `_ABOUT_PRIOR_WORK` holds.
_PRIOR_WORK_NEEDLES = (
    "earlier",
    "previous",
    "prior",
    "existing",
    "traditional",
    "conventional",
    "predecessor",
    "baseline",
    "older",
    "mentioned",
    "described",
    "listed",
)


def asks_about_prior_work(prompt: str) -> bool:
    """Does the question ask about earlier work ("which two earlier optimizers…") or about what
    the summary mentions at all ("which is NOT mentioned as a drawback of TRPO")? Then what
    the text says of earlier work is as good an answer as what it claims for itself."""
    if not _may_hold(prompt, _PRIOR_WORK_NEEDLES):
        return False
    return _ABOUT_PRIOR_WORK.search(prompt) is not None


def asks_for_unclaimed(prompt: str) -> bool:
    """Does the question ask for an option the paper does not claim for its own work ("which
    is NOT…", "EXCEPT", "what does X avoid")? Such questions are read by the negated model."""
    return is_negated(prompt) or asks_what_is_avoided(prompt)


#: What every match of `_NEGATED_LOUD` or `_NEGATED_QUIET` holds, in lower case.
_NEGATED_NEEDLES = ("not", "except", "least likely")


def is_negated(prompt: str) -> bool:
    """Does the question ask for the option that does NOT hold ('Which is NOT…', 'EXCEPT')?"""
    if not _may_hold(prompt, _NEGATED_NEEDLES):
        return False
    if _NEGATED_LOUD.search(prompt):
        return True
    match = _NEGATED_QUIET.search(prompt)
    if match is None:
        return False
    # "…a phenomenon that was not present in the data" describes the answer, it does not negate.
    # (Searched from the second character: the question's own leading "Which" is no relative.)
    return not _RELATIVE_CLAUSE_NOT.search(prompt, 1, match.end())


def scoped(marked: Sequence[str]) -> tuple[list[str], list[bool], list[int]]:
    """Tokens without the markers, whether each is under a negation, and its clause number."""
    if _NEGATION not in marked:
        if _CLAUSE not in marked:  # most options: nothing to scope
            return list(marked), [False] * len(marked), [0] * len(marked)
        clean, clauses = [], []  # the same as below with nothing negated
        clause = 0
        for token in marked:
            if token == _CLAUSE:
                clause += 1
            else:
                clean.append(token)
                clauses.append(clause)
        return clean, [False] * len(clean), clauses
    clean = []
    negated: list[bool] = []
    clauses = []
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
