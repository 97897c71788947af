"""Find KB entries from plain words, as the site's search box does (``bplint explain "why ..."``).

A small BM25 ranking over each entry's fields, the title, tags and slug weighing most, the body
least. Words are lower-cased, split on anything that is not a letter or digit and cut to a rough
stem (``transposed`` and ``transpose`` meet), so a learner's phrasing finds the page that uses
another form of the word. Words no entry contains get "did you mean" suggestions from the KB's
own vocabulary. No third-party code: this runs in the terminal, offline, in milliseconds.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Words that say nothing about which entry is meant ("why is the transpose used?").
STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does doing done for from get gets had
    has have how i if in into is it its me my no not of on or our shall should so than that the
    their them then there these they this those to use used uses using was we were what when
    where which while who whom why will with would you your instead""".split()
)

# Question words say nothing about the topic but something about the kind of question: a "why"
# query prefers the entries whose question asks "why". They count in the question field only.
INTERROGATIVES = frozenset({"why", "how", "what", "when", "where", "which"})

# Field weights: what the entry is called counts more than what its body mentions.
WEIGHTS = {"title": 4.0, "slug": 4.0, "tags": 3.0, "question": 2.0, "answer": 2.0, "extra": 2.0}
BODY_WEIGHT = 0.5
K1, B = 1.2, 0.75

_WORD = re.compile(r"[a-z0-9]+")

# Symbols the entries write and a learner types as words: Wᵀ is "W transpose", σ′ "sigmoid
# derivative".
SPOKEN = str.maketrans(
    {
        "ᵀ": " transpose ",
        "⁻": " inverse ",
        "σ": " sigmoid ",
        "δ": " delta ",
        "′": " derivative ",
        "⊙": " hadamard ",
        "∂": " derivative ",
        "η": " learning rate ",
    }
)


def words(text: str) -> list[str]:
    """Lower-cased words of ``text``, symbols spoken (``Wᵀ`` reads ``w transpose``); hyphens and
    ``_`` split words."""
    return _WORD.findall(unicodedata.normalize("NFKC", text.translate(SPOKEN)).lower())


def stem(word: str) -> str:
    """A rough suffix cut, the same for the query and the entries (not a linguistic stemmer)."""
    if len(word) <= 4 or word.isdigit():
        return word
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("e", "")):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 4:
            return word[: len(word) - len(suffix)] + keep
    return word


def terms(text: str) -> list[str]:
    """The stems ``text`` is searched by (stop words dropped)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


@dataclass(frozen=True)
class Hit:
    slug: str
    score: float


@dataclass(frozen=True)
class Result:
    hits: list[Hit]  # best first; empty when no entry contains any query word
    unknown: dict[str, list[str]]  # query word no entry contains -> close words that exist


class Index:
    """Every entry's weighted term counts, built once from the entries' text fields."""

    def __init__(self, docs: Mapping[str, Mapping[str, str]]) -> None:
        """``docs``: slug -> {field name: text}; fields not in WEIGHTS weigh BODY_WEIGHT."""
        self.tf: dict[str, Counter[str]] = {}
        self.vocabulary: set[str] = set()
        for slug, fields in docs.items():
            counts: Counter[str] = Counter()
            for name, text in fields.items():
                weight = WEIGHTS.get(name, BODY_WEIGHT)
                for w in words(text):
                    self.vocabulary.add(w)
                    if w not in STOPWORDS:
                        counts[stem(w)] += weight
                    elif name == "question" and w in INTERROGATIVES:
                        counts["?" + w] += weight
            self.tf[slug] = counts
        self.lengths = {slug: sum(c.values()) for slug, c in self.tf.items()}
        self.avg_length = sum(self.lengths.values()) / max(1, len(self.lengths))
        self.df: Counter[str] = Counter()
        for counts in self.tf.values():
            self.df.update(counts.keys())
        self.stems = set(self.df)

    def idf(self, term: str) -> float:
        n, df = len(self.tf), self.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def score(self, slug: str, query: Iterable[str]) -> float:
        counts, length = self.tf[slug], self.lengths[slug]
        total = 0.0
        for term in query:
            tf = counts.get(term, 0.0)
            if tf:
                norm = K1 * (1 - B + B * length / self.avg_length)
                total += self.idf(term) * tf * (K1 + 1) / (tf + norm)
        return total

    def search(self, query: str, limit: int = 5) -> Result:
        """The best ``limit`` entries for ``query``, and suggestions for words no entry has."""
        unknown: dict[str, list[str]] = {}
        wanted: list[str] = []
        for w in words(query):
            if w in INTERROGATIVES:
                wanted.append("?" + w)
            if w in STOPWORDS:
                continue
            if stem(w) in self.stems:
                wanted.append(stem(w))
            else:
                unknown[w] = self.suggest(w)
        scored = [Hit(slug, self.score(slug, wanted)) for slug in self.tf]
        hits = sorted((h for h in scored if h.score > 0), key=lambda h: (-h.score, h.slug))
        return Result(hits[:limit], unknown)

    def suggest(self, word: str) -> list[str]:
        """Up to three words of the KB spelled like ``word``, one per stem."""
        candidates = sorted(w for w in self.vocabulary if len(w) > 2 and not w.isdigit())
        close, seen = [], set()
        for w in difflib.get_close_matches(word, candidates, n=12, cutoff=0.75):
            if stem(w) not in seen:
                seen.add(stem(w))
                close.append(w)
        return close[:3]
