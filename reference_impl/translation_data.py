"""Parallel corpora for machine translation, generated offline from package data.

Two real-language corpora need no download at all:

* **number names** (``num2words``): the numbers 1..9999 written out in English, Russian, German and
  French, e.g. ``"forty-seven" -> "siebenundvierzig"``. German names the units before the tens, so
  an alignment between English and German crosses itself, and a German number is one long word, so
  these corpora are translated character by character.
* **dates** (``babel``'s CLDR data): a date written in one of many locales and formats
  (``"9. März 1987"``, ``"lundi 9 mars 1987"``, ``"Mar 9, 1987"``) mapped to ISO 8601
  (``"1987-03-09"``), the task of many attention tutorials, here in 13 locales.

A third, **linearized parse trees** ("Grammar as a Foreign Language", Vinyals et al. 2015), maps a
sentence of a tiny generated English grammar to its bracketed tree.

Real sentence pairs come from Tatoeba through the tab-separated files that manythings.org/anki
distributes (``deu.txt``: ``English<TAB>German<TAB>attribution``), read from the course cache and
downloaded only when asked (``download=True`` or ``$COURSE_DOWNLOAD=1``).

Every corpus is a :class:`ParallelCorpus` of ``(source, target)`` string pairs with a train / valid /
test split that depends only on ``seed``. Importing this module registers them in
:mod:`reference_impl.data`::

    >>> from reference_impl import data, translation_data
    >>> corpus = data.load("numbers", src="en", tgt="de")
    >>> corpus.train[0]
    ('three thousand, eight hundred and five', 'dreitausendachthundertfünf')
"""
import datetime
import os
import random
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import data
from .data import DataUnavailableError, cache_dir

NUMBER_LANGUAGES = ("en", "ru", "de", "fr")
DATE_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "ru_RU", "es_ES", "it_IT", "pt_BR", "nl_NL",
                "pl_PL", "sv_SE", "tr_TR", "cs_CZ")
DATE_FORMATS = ("medium", "long", "full")
ANKI_URL = "https://www.manythings.org/anki/{lang}-eng.zip"


# ----------------------------------------------------------------------------------------------
# container and splitting


@dataclass
class ParallelCorpus:
    """Sentence pairs with a fixed split.

    Attributes:
        train, valid, test: lists of ``(source, target)`` strings.
        name: registry name; source: where the text came from; meta: generator settings.
    """

    train: list
    valid: list
    test: list
    name: str
    source: str = ""
    meta: dict = field(default_factory=dict)

    def all_pairs(self) -> list:
        return self.train + self.valid + self.test

    def __repr__(self):
        return (f"ParallelCorpus({self.name!r}: {len(self.train)} train, {len(self.valid)} valid, "
                f"{len(self.test)} test pairs, from {self.source})")


def split_pairs(pairs, valid_fraction=0.1, test_fraction=0.1, seed=0):
    """Shuffle ``pairs`` with ``random.Random(seed)`` and cut them into (train, valid, test).

    The result depends only on ``pairs`` (as a list, in order) and ``seed``.
    """
    if not (0 <= valid_fraction < 1 and 0 <= test_fraction < 1 and valid_fraction + test_fraction < 1):
        raise ValueError(f"fractions must be in [0, 1) with a sum below 1, got valid={valid_fraction}, "
                         f"test={test_fraction}")
    pairs = list(pairs)
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    n_test = int(round(test_fraction * len(pairs)))
    n_valid = int(round(valid_fraction * len(pairs)))
    test = [pairs[i] for i in order[:n_test]]
    valid = [pairs[i] for i in order[n_test:n_test + n_valid]]
    train = [pairs[i] for i in order[n_test + n_valid:]]
    return train, valid, test


def _clean(text: str) -> str:
    """Plain spaces for CLDR's no-break spaces, so that what the data holds can be typed."""
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


# ----------------------------------------------------------------------------------------------
# number names


def number_name(n: int, lang: str) -> str:
    """``n`` written out in ``lang`` (one of en, ru, de, fr) by num2words."""
    from num2words import num2words

    if lang not in NUMBER_LANGUAGES:
        raise ValueError(f"language {lang!r} is not offered; choose one of {NUMBER_LANGUAGES}")
    return _clean(num2words(int(n), lang=lang))


def number_pairs(src="en", tgt="de", numbers=range(1, 10000)) -> list:
    """``[(name of n in src, name of n in tgt)]`` for every ``n`` in ``numbers``, in that order."""
    return [(number_name(n, src), number_name(n, tgt)) for n in numbers]


def load_numbers(src="en", tgt="de", low=1, high=9999, valid_fraction=0.1, test_fraction=0.1,
                 seed=0) -> ParallelCorpus:
    """Number names ``low..high`` from ``src`` to ``tgt``, split at random (seeded).

    A source may be the digits themselves: ``src="digits"`` gives ``("47", "siebenundvierzig")``.
    """
    if low < 1 or high < low:
        raise ValueError(f"need 1 <= low <= high, got low={low}, high={high}")
    numbers = range(low, high + 1)
    if src == "digits":
        pairs = [(str(n), number_name(n, tgt)) for n in numbers]
    else:
        pairs = number_pairs(src, tgt, numbers)
    train, valid, test = split_pairs(pairs, valid_fraction, test_fraction, seed)
    return ParallelCorpus(train, valid, test, f"numbers_{src}_{tgt}", "num2words (generated)",
                          dict(src=src, tgt=tgt, low=low, high=high, seed=seed))


# ----------------------------------------------------------------------------------------------
# dates


def format_date(date: datetime.date, locale="en_US", fmt="long") -> str:
    """``date`` as CLDR writes it in ``locale`` with the ``fmt`` pattern (medium, long, full)."""
    from babel.dates import format_date as babel_format_date

    return _clean(babel_format_date(date, format=fmt, locale=locale))


def date_pairs(n=20000, locales=DATE_LOCALES, formats=DATE_FORMATS, first_year=1950, last_year=2049,
               seed=0) -> list:
    """``n`` pairs ``(date in a random locale and format, ISO date)`` with distinct sources.

    Dates are uniform over ``first_year-01-01 .. last_year-12-31``; locale and format uniform.
    """
    rng = random.Random(seed)
    start = datetime.date(first_year, 1, 1).toordinal()
    stop = datetime.date(last_year, 12, 31).toordinal()
    seen, pairs = set(), []
    attempts = 0
    while len(pairs) < n:
        attempts += 1
        if attempts > 20 * n + 1000:
            raise ValueError(f"could not draw {n} distinct dates from {first_year}..{last_year}")
        day = datetime.date.fromordinal(rng.randint(start, stop))
        text = format_date(day, rng.choice(locales), rng.choice(formats))
        if text in seen:
            continue
        seen.add(text)
        pairs.append((text, day.isoformat()))
    return pairs


def load_dates(n=20000, locales=DATE_LOCALES, formats=DATE_FORMATS, valid_fraction=0.1,
               test_fraction=0.1, seed=0) -> ParallelCorpus:
    """Dates in many locales -> ISO 8601, ``n`` pairs in all, split at random (seeded)."""
    pairs = date_pairs(n, tuple(locales), tuple(formats), seed=seed)
    train, valid, test = split_pairs(pairs, valid_fraction, test_fraction, seed)
    return ParallelCorpus(train, valid, test, "dates", "babel CLDR date formats (generated)",
                          dict(n=n, locales=tuple(locales), formats=tuple(formats), seed=seed))


# ----------------------------------------------------------------------------------------------
# a tiny grammar and its linearized parse trees (Vinyals et al. 2015)

_DET = ("the", "a")
_ADJ = ("small", "red", "old", "happy")
_NOUN = ("cat", "dog", "bird", "man", "park", "telescope")
_VERB_T = ("saw", "chased", "liked")
_VERB_I = ("slept", "ran")
_PREP = ("in", "with", "near")


def _np(rng, depth):
    words, tree = [rng.choice(_DET)], ["(NP", "DT"]
    if rng.random() < 0.3:
        words.append(rng.choice(_ADJ))
        tree.append("JJ")
    words.append(rng.choice(_NOUN))
    tree.append("NN")
    if depth < 2 and rng.random() < 0.25:
        w, t = _pp(rng, depth + 1)
        words += w
        tree += t
    return words, tree + [")NP"]


def _pp(rng, depth):
    w, t = _np(rng, depth)
    return [rng.choice(_PREP)] + w, ["(PP", "IN"] + t + [")PP"]


def grammar_pair(rng: random.Random):
    """One ``(sentence, linearized tree)``; words in the tree are replaced by their tags, as in the paper."""
    words, tree = _np(rng, 0)
    tree = ["(S"] + tree
    if rng.random() < 0.35:
        words.append(rng.choice(_VERB_I))
        tree += ["(VP", "VBD", ")VP"]
    else:
        w, t = _np(rng, 1)
        words += [rng.choice(_VERB_T)] + w
        tree += ["(VP", "VBD"] + t + [")VP"]
    return " ".join(words), " ".join(tree + [")S"])


def load_grammar(n=6000, valid_fraction=0.1, test_fraction=0.1, seed=0) -> ParallelCorpus:
    """Sentences of a tiny English grammar -> their linearized parse trees (distinct sentences)."""
    rng = random.Random(seed)
    pairs, seen = [], set()
    for _ in range(50 * n):
        s, t = grammar_pair(rng)
        if s not in seen:
            seen.add(s)
            pairs.append((s, t))
            if len(pairs) == n:
                break
    train, valid, test = split_pairs(pairs, valid_fraction, test_fraction, seed)
    return ParallelCorpus(train, valid, test, "grammar", "generated grammar", dict(n=len(pairs), seed=seed))


# ----------------------------------------------------------------------------------------------
# Tatoeba sentence pairs (manythings.org/anki), opt-in


def offline_corpora() -> str:
    return ", ".join(f"load({n!r})" for n in ("numbers", "dates", "grammar"))


def read_anki_pairs(path) -> list:
    """``[(english, other)]`` from an Anki pairs file (``.txt`` or the ``.zip`` holding it).

    Each line is ``English<TAB>translation[<TAB>attribution]``; blank and malformed lines are skipped.
    """
    path = Path(path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(".txt") and not n.startswith("_")]
            texts = [n for n in names if "about" not in n.lower()]
            if not texts:
                raise DataUnavailableError(f"{path} holds no sentence file (found {z.namelist()})")
            raw = z.read(texts[0]).decode("utf-8")
    else:
        raw = path.read_text(encoding="utf-8")
    pairs = []
    for line in raw.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].strip() and parts[1].strip():
            pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def load_tatoeba(lang="deu", download=None, max_pairs=None, valid_fraction=0.05, test_fraction=0.05,
                 seed=0) -> ParallelCorpus:
    """English -> ``lang`` Tatoeba pairs from manythings.org's Anki files.

    Looked for in ``<cache>/tatoeba/{lang}.txt`` or ``{lang}-eng.zip`` (cache: ``$COURSE_DATA_DIR`` or
    ``~/.cache/rnn-attention-course``). Only with ``download=True`` (or ``$COURSE_DOWNLOAD=1``) is the
    zip fetched into the cache. ``max_pairs`` keeps the first (shortest) pairs of the file.

    Raises:
        DataUnavailableError: no file and downloading off (or failed); the message names the offline
            corpora.
    """
    if download is None:
        download = os.environ.get(data.DOWNLOAD_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}
    folder = cache_dir() / "tatoeba"
    candidates = [folder / f"{lang}.txt", folder / f"{lang}-eng.zip"]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        if not download:
            raise DataUnavailableError(
                f"Tatoeba pairs eng-{lang} are not on this machine (looked for "
                f"{', '.join(map(str, candidates))}) and downloading is off. Put the file from "
                f"{ANKI_URL.format(lang=lang)} there, or call load('tatoeba', download=True) / set "
                f"{data.DOWNLOAD_ENV_VAR}=1 (needs the network). Offline corpora: {offline_corpora()}.")
        found = candidates[1]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            request = urllib.request.Request(ANKI_URL.format(lang=lang), headers={"User-Agent": "Mozilla/5.0"})
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = response.read()
            tmp = found.with_suffix(".tmp")
            tmp.write_bytes(payload)
            tmp.replace(found)
        except Exception as exc:  # network errors come in many types
            raise DataUnavailableError(
                f"Could not download {ANKI_URL.format(lang=lang)} ({type(exc).__name__}: {exc}). "
                f"Offline corpora: {offline_corpora()}.") from exc
    pairs = read_anki_pairs(found)
    if max_pairs is not None:
        pairs = pairs[:max_pairs]
    if not pairs:
        raise DataUnavailableError(f"{found} holds no sentence pairs. Offline corpora: {offline_corpora()}.")
    train, valid, test = split_pairs(pairs, valid_fraction, test_fraction, seed)
    return ParallelCorpus(train, valid, test, f"tatoeba_eng_{lang}", str(found), dict(lang=lang, seed=seed))


# ----------------------------------------------------------------------------------------------
# registration (guarded, so that reloading this module does not register twice)

_ENTRIES = {
    "numbers": ("number names 1..9999 in en/ru/de/fr (num2words), character-level translation",
                True, load_numbers),
    "dates": ("dates in 13 locales and 3 formats (babel CLDR) -> ISO 8601", True, load_dates),
    "grammar": ("sentences of a tiny grammar -> linearized parse trees", True, load_grammar),
    "tatoeba": ("Tatoeba English-X sentence pairs (manythings.org/anki)", False, load_tatoeba),
}
for _name, (_description, _offline, _loader) in _ENTRIES.items():
    if _name not in data.available():
        data.register(_name, _description, offline=_offline)(_loader)
