"""Speech and audio topics: a taxonomy file (built-in or the user's) and a deterministic keyword classifier.

The rule syntax and the scoring are documented at the top of `data/topics.yaml`. `classify` needs no
model call; `Taxonomy.fingerprint` changes whenever the rules or the scoring do, so stored topics can be
recomputed for the whole archive.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from digest.core.errors import ConfigError
from digest.core.record import DayRecord, Entry

OTHER = "other"
BUILTIN_NAME = "topics.yaml (built-in)"
# Bumped when the matching or scoring code changes meaning, so fingerprints change with it.
MATCHER_VERSION = 1

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_WEIGHT = re.compile(r"^(?P<term>.*?)\^(?P<weight>\d+(?:\.\d+)?)$")
_EN_WORD = re.compile(r"^[A-Za-z0-9]+\*?$")
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—_]+")
_JOINER = re.compile(r"[\s\-‐‑‒–—_]+")
_TOKEN = re.compile(r"[a-z0-9]+")
# Chinese text: spaces and hyphens between Han characters are ignored, so 音频-语言模型 matches 音频语言模型.
_ZH_IGNORED = re.compile(r"[\s\-‐‑‒–—·]+")
_ZH_GAP = re.compile(r"(?<=[\u3400-\u9fff])[\s\-‐‑‒–—·]+(?=[\u3400-\u9fff])")
_DEFAULT_SCORING: dict[str, float] = {
    "title_weight": 3.0,
    "per_term_cap": 3.0,
    "min_score": 1.0,
    "keep_ratio": 0.5,
    "max_topics": 3.0,
}


@dataclass(frozen=True)
class Scoring:
    """How matches turn into topics (see the YAML header)."""

    title_weight: float = 3.0
    per_term_cap: int = 3
    min_score: float = 1.0
    keep_ratio: float = 0.5
    max_topics: int = 3


@dataclass(frozen=True)
class Topic:
    """One topic: slug, Chinese label, English phrases and Chinese terms, each with a weight."""

    slug: str
    label: str
    en: tuple[tuple[str, float], ...] = ()
    zh: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class _Phrase:
    topic: int  # index into Taxonomy.topics
    term: int  # index of the term within its topic (en terms first, then zh)
    weight: float
    words: tuple[tuple[str, bool], ...]  # (word, is_prefix)
    length: int  # characters of the rule, for longest-first


class _Matcher:
    """All rules of a taxonomy, indexed so a text is scanned once: English by word, Chinese by substring."""

    def __init__(self, topics: list[Topic]) -> None:
        self.exact: dict[str, list[_Phrase]] = {}
        self.prefix: dict[str, list[_Phrase]] = {}
        self.zh: list[tuple[str, _Phrase]] = []
        for ti, topic in enumerate(topics):
            for k, (term, weight) in enumerate(topic.en):
                words = tuple(
                    (w[:-1].lower(), True) if w.endswith("*") else (w.lower(), False)
                    for w in _SEPARATORS.split(term)
                    if w
                )
                phrase = _Phrase(ti, k, weight, words, len(term))
                first, is_prefix = words[0]
                if is_prefix:
                    self.prefix.setdefault(first[:2], []).append(phrase)
                else:
                    for form in (first, first + "s", first + "es"):
                        self.exact.setdefault(form, []).append(phrase)
            for k, (term, weight) in enumerate(topic.zh, len(topic.en)):
                self.zh.append((term.lower(), _Phrase(ti, k, weight, (), len(term))))

    def scores(self, text: str, cap: int, n_topics: int) -> list[float]:
        """Per topic: the sum of its matches' weights, longest match first, no overlaps, each term capped."""
        if not text:
            return [0.0] * n_topics
        text = text.lower()
        found: list[tuple[int, int, _Phrase]] = []  # (start, end, phrase)
        tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
        for i, (start, _, tok) in enumerate(tokens):
            for phrase in (*self.exact.get(tok, ()), *self.prefix.get(tok[:2], ())):
                end = _match_words(phrase.words, tokens, i, text)
                if end is not None:
                    found.append((start, end, phrase))
        for term, phrase in self.zh:
            at = text.find(term)
            while at >= 0:
                found.append((at, at + len(term), phrase))
                at = text.find(term, at + len(term))
        # leftmost first, longer rule first at one position, as a regex alternation would take them
        found.sort(key=lambda f: (f[2].topic, f[0], -f[2].length, f[2].term))
        counts: dict[tuple[int, int], int] = {}
        weights: dict[tuple[int, int], float] = {}
        reach: dict[int, int] = {}
        for start, end, phrase in found:
            if start < reach.get(phrase.topic, 0):
                continue
            reach[phrase.topic] = end
            key = (phrase.topic, phrase.term)
            counts[key] = counts.get(key, 0) + 1
            weights[key] = phrase.weight
        out = [0.0] * n_topics
        for key, n in counts.items():
            out[key[0]] += weights[key] * min(n, cap)
        return out


def _word_ok(word: str, is_prefix: bool, tok: str) -> bool:
    if is_prefix:
        return tok.startswith(word)
    return tok == word or tok == word + "s" or tok == word + "es"


def _match_words(
    words: tuple[tuple[str, bool], ...], tokens: list[tuple[int, int, str]], i: int, text: str
) -> int | None:
    """End offset when the phrase matches at token i (words joined only by spaces or hyphens), else None."""
    if not _word_ok(*words[0], tokens[i][2]):
        return None
    for k, (word, is_prefix) in enumerate(words[1:], 1):
        j = i + k
        if j >= len(tokens) or not _word_ok(word, is_prefix, tokens[j][2]):
            return None
        if not _JOINER.fullmatch(text, tokens[j - 1][1], tokens[j][0]):
            return None
    return tokens[i + len(words) - 1][1]


@dataclass(frozen=True)
class Taxonomy:
    """The topics, in the file's order, plus the scoring settings and where they came from."""

    topics: tuple[Topic, ...]
    scoring: Scoring
    source: str
    fingerprint: str
    _matcher: _Matcher = field(compare=False, repr=False)

    def labels(self) -> dict[str, str]:
        """slug -> Chinese label, in the taxonomy's order."""
        return {t.slug: t.label for t in self.topics}

    def label(self, slug: str) -> str:
        """The Chinese label of a slug (the slug itself when unknown, e.g. a stale stored topic)."""
        return next((t.label for t in self.topics if t.slug == slug), slug)


# ---------------------------------------------------------------- loading


def phrase_matches(phrase: str, text: str) -> bool:
    """Whether one English rule phrase matches text (for checking a rule while writing a topics file)."""
    topic = Topic("t", "t", _terms([phrase], "phrase", "en"))
    return _Matcher([topic]).scores(text, 1, 1)[0] > 0


def _fail(where: str, problem: str) -> ConfigError:
    return ConfigError(f"{where}: {problem}")


def _terms(raw: object, where: str, kind: str) -> tuple[tuple[str, float], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail(where, f"`{kind}` must be a list of terms, got {type(raw).__name__}")
    out: list[tuple[str, float]] = []
    for item in raw:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item.strip():
            raise _fail(where, f"`{kind}` has an empty or non-text term {item!r}; write each term as text")
        term, weight = item.strip(), 1.0
        if m := _WEIGHT.match(term):
            term, weight = m.group("term").strip(), float(m.group("weight"))
            if weight <= 0:
                raise _fail(where, f"term {item!r} has weight 0; remove the term instead")
        if not term:
            raise _fail(where, f"`{kind}` term {item!r} is empty before its weight")
        if kind == "en":
            bad = [w for w in _SEPARATORS.split(term) if w and not _EN_WORD.match(w)]
            if bad:
                raise _fail(
                    where,
                    f"English term {item!r} has {bad[0]!r}; use letters and digits, with `*` only at a word's end",
                )
        else:
            term = _ZH_IGNORED.sub("", term)
        out.append((term, weight))
    return tuple(out)


def _scoring(raw: object, where: str) -> Scoring:
    if raw is None:
        return Scoring()
    if not isinstance(raw, dict):
        raise _fail(where, "`scoring` must be a mapping of setting: number")
    unknown = sorted(set(map(str, raw)) - set(_DEFAULT_SCORING))
    if unknown:
        raise _fail(where, f"unknown scoring setting `{unknown[0]}`; known: {', '.join(_DEFAULT_SCORING)}")
    values = dict(_DEFAULT_SCORING)
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise _fail(where, f"scoring `{key}` must be a number >= 0, got {value!r}")
        values[str(key)] = float(value)
    if not 0 < values["keep_ratio"] <= 1:
        raise _fail(where, "scoring `keep_ratio` must be in (0, 1]")
    if not 1 <= values["max_topics"] <= 3 or values["max_topics"] != int(values["max_topics"]):
        raise _fail(where, "scoring `max_topics` must be 1, 2 or 3 (a paper gets 1 to 3 topics)")
    if values["per_term_cap"] < 1 or values["per_term_cap"] != int(values["per_term_cap"]):
        raise _fail(where, "scoring `per_term_cap` must be a whole number >= 1")
    return Scoring(
        title_weight=values["title_weight"],
        per_term_cap=int(values["per_term_cap"]),
        min_score=values["min_score"],
        keep_ratio=values["keep_ratio"],
        max_topics=int(values["max_topics"]),
    )


def parse_taxonomy(data: object, source: str) -> Taxonomy:
    """Validate parsed YAML and build the taxonomy; errors name `source` and the entry at fault."""
    if not isinstance(data, dict):
        raise _fail(source, "expected a mapping with a `topics:` list at the top")
    unknown = sorted(set(map(str, data)) - {"topics", "scoring"})
    if unknown:
        raise _fail(source, f"unknown top-level key `{unknown[0]}`; expected `topics` and optionally `scoring`")
    scoring = _scoring(data.get("scoring"), f"{source}: scoring")
    raw_topics = data.get("topics")
    if not isinstance(raw_topics, list) or not raw_topics:
        raise _fail(source, "`topics` must be a non-empty list of topics")
    topics: list[Topic] = []
    seen: set[str] = set()
    for n, entry in enumerate(raw_topics, 1):
        where = f"{source}: topic {n}"
        if not isinstance(entry, dict):
            raise _fail(where, "must be a mapping with slug, label, en and zh")
        slug = entry.get("slug")
        if isinstance(slug, str):
            where = f"{source}: topic {n} ({slug})"
        if not isinstance(slug, str) or not _SLUG.match(slug):
            raise _fail(where, f"slug {slug!r} must be lower-case letters, digits and single hyphens")
        if slug in seen:
            raise _fail(where, f"slug `{slug}` appears twice; slugs must be unique")
        seen.add(slug)
        extra = sorted(set(map(str, entry)) - {"slug", "label", "en", "zh"})
        if extra:
            raise _fail(where, f"unknown key `{extra[0]}`; a topic has slug, label, en and zh")
        label = entry.get("label")
        if not isinstance(label, str) or not label.strip():
            raise _fail(where, "needs a non-empty `label` (the Chinese name shown on the site)")
        en = _terms(entry.get("en"), where, "en")
        zh = _terms(entry.get("zh"), where, "zh")
        if slug == OTHER and (en or zh):
            raise _fail(where, "`other` takes no rules: it is what a paper gets when nothing else matches")
        if slug != OTHER and not (en or zh):
            raise _fail(where, "has no `en` or `zh` terms, so it could never match")
        topics.append(Topic(slug, label.strip(), en, zh))
    if OTHER not in seen:
        raise _fail(source, "needs a topic with slug `other` (the fallback when nothing matches)")
    return Taxonomy(tuple(topics), scoring, source, _fingerprint(topics, scoring), _Matcher(topics))


def _fingerprint(topics: list[Topic], scoring: Scoring) -> str:
    canon = {
        "matcher": MATCHER_VERSION,
        "scoring": scoring.__dict__,
        "topics": [{"slug": t.slug, "label": t.label, "en": t.en, "zh": t.zh} for t in topics],
    }
    blob = json.dumps(canon, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """The taxonomy from `path` (the user's override, config `site.topics_file`) or the built-in one."""
    if path is None:
        text = resources.files("digest").joinpath("data/topics.yaml").read_text(encoding="utf-8")
        source = BUILTIN_NAME
    else:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: topics file not found; fix site.topics_file or remove it") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the topics file ({exc}); check the file") from None
    return _parsed(text, source)


# A run loads the taxonomy for every day it publishes and notifies (~65 ms a parse): same text, same taxonomy.
@functools.lru_cache(maxsize=8)
def _parsed(text: str, source: str) -> Taxonomy:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}: not valid YAML{at}; fix the syntax") from None
    return parse_taxonomy(data, source)


# ---------------------------------------------------------------- classifying


def _normalise(text: str | None) -> str:
    return _ZH_GAP.sub("", text) if text else ""


def topic_scores(title: str, abstract_en: str, abstract_zh: str, taxonomy: Taxonomy) -> dict[str, float]:
    """Each matching topic's score for one paper (for debugging and the benchmark)."""
    sc = taxonomy.scoring
    title, en, zh = _normalise(title), _normalise(abstract_en), _normalise(abstract_zh)
    n = len(taxonomy.topics)
    matcher = taxonomy._matcher
    t = matcher.scores(title, 1, n)
    a_en = matcher.scores(en, sc.per_term_cap, n)
    a_zh = matcher.scores(zh, sc.per_term_cap, n)
    out: dict[str, float] = {}
    for i, topic in enumerate(taxonomy.topics):
        score = sc.title_weight * t[i] + max(a_en[i], a_zh[i])
        if score > 0 and topic.slug != OTHER:
            out[topic.slug] = round(score, 6)
    return out


def classify(title: str, abstract_en: str, abstract_zh: str, taxonomy: Taxonomy) -> list[str]:
    """1 to 3 topic slugs for a paper, best first; `["other"]` when no topic scores enough. Deterministic."""
    sc = taxonomy.scoring
    scores = topic_scores(title, abstract_en, abstract_zh, taxonomy)
    order = {t.slug: i for i, t in enumerate(taxonomy.topics)}
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))
    if not ranked or ranked[0][1] < sc.min_score:
        return [OTHER]
    best = ranked[0][1]
    kept = [slug for slug, s in ranked if s >= sc.min_score and s >= sc.keep_ratio * best]
    return kept[: sc.max_topics]


# ---------------------------------------------------------------- records


def entry_topics(entry: Entry, taxonomy: Taxonomy) -> list[str]:
    """The topics of one record entry: its title, English abstract and Chinese translation (if done)."""
    t = entry.translation
    zh = t.text if t is not None and t.status == "done" else ""
    return classify(entry.title, entry.abstract, zh, taxonomy)


def apply_topics(record: DayRecord, taxonomy: Taxonomy, *, force: bool = False) -> bool:
    """Fill every entry's topics unless the record was classified with this taxonomy; True if it changed."""
    if not force and record.topics_fingerprint == taxonomy.fingerprint and all(e.topics for e in record.papers):
        return False
    changed = record.topics_fingerprint != taxonomy.fingerprint
    for entry in record.papers:
        topics = entry_topics(entry, taxonomy)
        if topics != entry.topics:
            entry.topics = topics
            changed = True
    record.topics_fingerprint = taxonomy.fingerprint
    return changed


# ---------------------------------------------------------------- measuring on a labelled sample

TUNING, HELD_OUT = "tuning", "held-out"


def sample_half(arxiv_id: str) -> str:
    """The fixed split of a labelled sample: an even arXiv number tunes the rules, an odd one is held out."""
    number = arxiv_id.partition(".")[2][:5]
    return TUNING if number.isdigit() and int(number) % 2 == 0 else HELD_OUT


@dataclass(frozen=True)
class SampleFigures:
    """How the classifier fares on hand-labelled papers."""

    papers: int
    hit_rate: float  # share of papers whose labelled main subject is among their topics
    mean_topics: float  # topics per paper on average
    other_share: float  # share of papers filed only under `other`


def sample_figures(results: list[tuple[str, list[str]]]) -> SampleFigures:
    """Figures for (labelled main subject, classified topics) pairs; an empty sample scores zero."""
    n = len(results)
    if not n:
        return SampleFigures(0, 0.0, 0.0, 0.0)
    hits = sum(main in got for main, got in results)
    total = sum(len(got) for _, got in results)
    others = sum(got == [OTHER] for _, got in results)
    return SampleFigures(n, hits / n, total / n, others / n)
