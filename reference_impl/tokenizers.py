"""Turning text into token ids: characters, words, byte-pair encoding, GNMT's mixed word/character model.

* :class:`Vocab` maps tokens to ids with four reserved ids (``<pad>`` 0, ``<sos>`` 1, ``<eos>`` 2,
  ``<unk>`` 3) and says which tokens it does not know.
* :class:`CharTokenizer` / :class:`WordTokenizer`: a vocabulary of the characters / words of a corpus.
* :func:`learn_bpe` / :func:`apply_bpe`: byte-pair encoding as defined by Sennrich, Haddow & Birch
  (2016), "Neural Machine Translation of Rare Words with Subword Units", Algorithm 1: start from the
  characters of each word followed by the end-of-word symbol ``</w>``, repeatedly merge the most
  frequent adjacent pair of symbols.
* :func:`mixed_word_char`: Wu et al. (2016, GNMT) keep frequent words whole and spell the others
  with position-tagged characters: ``Miki -> <B>M <M>i <M>k <E>i``.
"""
import collections
from dataclasses import dataclass

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIALS = (PAD, SOS, EOS, UNK)
PAD_ID, SOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
END_OF_WORD = "</w>"


class UnknownTokenError(ValueError):
    """Text holds tokens the vocabulary has never seen; ``unknown`` lists them."""

    def __init__(self, message, unknown=()):
        super().__init__(message)
        self.unknown = tuple(unknown)


# ----------------------------------------------------------------------------------------------
# vocabulary


class Vocab:
    """Token <-> id, with ``<pad>=0, <sos>=1, <eos>=2, <unk>=3`` first and the rest in given order."""

    def __init__(self, tokens):
        self.itos = list(SPECIALS) + [t for t in dict.fromkeys(tokens) if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def from_corpus(cls, token_lists, min_count=1):
        """Tokens seen at least ``min_count`` times, most frequent first (ties: first seen)."""
        counts = collections.Counter(t for tokens in token_lists for t in tokens)
        return cls([t for t, c in counts.most_common() if c >= min_count])

    def __len__(self):
        return len(self.itos)

    def __contains__(self, token):
        return token in self.stoi

    def unknown(self, tokens) -> list:
        """The distinct tokens not in the vocabulary, in order of appearance."""
        return [t for t in dict.fromkeys(tokens) if t not in self.stoi]

    def encode(self, tokens, strict=False) -> list:
        """Ids of ``tokens``; unknown ones become ``<unk>``, or raise :class:`UnknownTokenError` if strict."""
        if strict:
            missing = self.unknown(tokens)
            if missing:
                raise UnknownTokenError(f"unknown token(s) {missing}", missing)
        return [self.stoi.get(t, UNK_ID) for t in tokens]

    def decode(self, ids, strip=True) -> list:
        """Tokens of ``ids``; with ``strip``, stop at the first ``<eos>`` and drop ``<pad>``/``<sos>``."""
        out = []
        for i in ids:
            i = int(i)
            if strip and i == EOS_ID:
                break
            if strip and i in (PAD_ID, SOS_ID):
                continue
            out.append(self.itos[i] if 0 <= i < len(self.itos) else UNK)
        return out


# ----------------------------------------------------------------------------------------------
# tokenizers: text -> tokens -> ids and back


@dataclass
class CharTokenizer:
    """One token per character. ``encode("abc") -> [ids of a, b, c]``."""

    vocab: Vocab
    joiner: str = ""

    @classmethod
    def from_corpus(cls, texts):
        return cls(Vocab.from_corpus(list(t) for t in texts))

    def tokenize(self, text: str) -> list:
        return list(text)

    def encode(self, text, strict=False) -> list:
        return self.vocab.encode(self.tokenize(text), strict=strict)

    def decode(self, ids) -> str:
        return self.joiner.join(self.vocab.decode(ids))

    def describe_unknown(self, text) -> str:
        """A message naming the characters of ``text`` this tokenizer cannot encode ('' if none)."""
        missing = self.vocab.unknown(self.tokenize(text))
        if not missing:
            return ""
        shown = ", ".join(repr(c) for c in missing[:10])
        known = "".join(sorted(t for t in self.vocab.itos if t not in SPECIALS))
        return f"unknown character(s) {shown}; the model knows only {known!r}"


@dataclass
class WordTokenizer(CharTokenizer):
    """One token per whitespace-separated word."""

    joiner: str = " "

    @classmethod
    def from_corpus(cls, texts, min_count=1):
        return cls(Vocab.from_corpus((t.split() for t in texts), min_count=min_count), " ")

    def tokenize(self, text: str) -> list:
        return text.split()

    def describe_unknown(self, text) -> str:
        missing = self.vocab.unknown(self.tokenize(text))
        if not missing:
            return ""
        return f"unknown word(s) {', '.join(repr(w) for w in missing[:10])} (vocabulary of {len(self.vocab)})"


# ----------------------------------------------------------------------------------------------
# byte-pair encoding (Sennrich et al. 2016)


def _pair_counts(word_freqs):
    pairs = collections.Counter()
    for symbols, freq in word_freqs.items():
        for a, b in zip(symbols, symbols[1:]):
            pairs[a, b] += freq
    return pairs


def _merge_symbols(symbols, pair):
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def learn_bpe(words, num_merges: int) -> list:
    """Learn up to ``num_merges`` merge operations from a corpus.

    Inputs:
        words: an iterable of words (a word repeated counts as often as it appears), or a dict
            ``{word: frequency}``.
    Returns:
        the merges in the order learned, ``[(left, right), ...]``; a symbol is a string, and every
        word ends in the symbol ``</w>`` (later merged into e.g. ``est</w>``). At each step the most frequent adjacent pair is merged;
        ties go to the pair seen first (words in first-seen order, left to right). Stops early when
        every word is a single symbol.
    """
    counts = words if isinstance(words, dict) else collections.Counter(words)
    word_freqs = {tuple(w) + (END_OF_WORD,): c for w, c in counts.items() if w}
    merges = []
    for _ in range(num_merges):
        pairs = _pair_counts(word_freqs)
        if not pairs:
            break
        best = max(pairs, key=lambda p: pairs[p])  # first maximal in insertion order
        merges.append(best)
        word_freqs = {_merge_symbols(s, best): c for s, c in word_freqs.items()}
    return merges


def apply_bpe(word: str, merges, rank=None) -> list:
    """Segment one word with learned merges: apply them in the order learned.

    ``rank`` (``{pair: position in merges}``) may be passed to save rebuilding it for every word.

    Returns:
        the word's symbols, the last one ending in ``</w>``; ``"".join(out) == word + "</w>"``.
    """
    if not word:
        return []
    symbols = tuple(word) + (END_OF_WORD,)
    if rank is None:
        rank = {tuple(m): i for i, m in enumerate(merges)}
    while len(symbols) > 1:
        candidates = [(rank[p], p) for p in zip(symbols, symbols[1:]) if p in rank]
        if not candidates:
            break
        symbols = _merge_symbols(symbols, min(candidates)[1])
    return list(symbols)


@dataclass
class BPETokenizer(CharTokenizer):
    """Words split into BPE subwords; ``decode`` glues symbols until one ends in ``</w>``."""

    merges: tuple = ()

    def __post_init__(self):
        self._rank = {tuple(m): i for i, m in enumerate(self.merges)}
        self._cache = {}

    def segment(self, word) -> list:
        """:func:`apply_bpe` of one word, remembered."""
        if word not in self._cache:
            self._cache[word] = apply_bpe(word, self.merges, self._rank)
        return self._cache[word]

    @classmethod
    def from_corpus(cls, texts, num_merges=200):
        texts = list(texts)
        counts = collections.Counter(w for t in texts for w in t.split())
        merges = learn_bpe(counts, num_merges)
        rank = {m: i for i, m in enumerate(merges)}
        symbols = [s for w in counts for s in apply_bpe(w, merges, rank)]
        # every character, the end-of-word symbol and every merge result stay encodable in new words
        chars = sorted({c for t in texts for c in t if not c.isspace()})
        extra = chars + [END_OF_WORD] + [a + b for a, b in merges]
        return cls(Vocab.from_corpus([symbols, extra]), "", tuple(merges))

    def tokenize(self, text: str) -> list:
        return [s for w in text.split() for s in self.segment(w)]

    def decode(self, ids) -> str:
        return "".join(self.vocab.decode(ids)).replace(END_OF_WORD, " ").strip()

    def describe_unknown(self, text) -> str:
        missing = self.vocab.unknown(self.tokenize(text))
        if not missing:
            return ""
        return f"unknown subword(s) {', '.join(repr(w) for w in missing[:10])}"


# ----------------------------------------------------------------------------------------------
# GNMT's mixed word/character model


def mixed_word_char(text: str, known_words) -> list:
    """Words in ``known_words`` stay whole; others become ``<B>first <M>middle... <E>last``.

    A one-letter unknown word becomes ``<B>x`` alone (the paper does not say; we keep it decodable).
    """
    out = []
    for w in text.split():
        if w in known_words:
            out.append(w)
        elif len(w) == 1:
            out.append("<B>" + w)
        else:
            out += ["<B>" + w[0]] + ["<M>" + c for c in w[1:-1]] + ["<E>" + w[-1]]
    return out


def unmix_word_char(tokens) -> str:
    """Inverse of :func:`mixed_word_char`: glue ``<B>..<M>..<E>`` spellings back into words."""
    words, current = [], None
    for t in tokens:
        tag, body = t[:3], t[3:]
        if tag == "<B>":
            if current is not None:
                words.append(current)
            current = body
        elif tag in ("<M>", "<E>") and current is not None:
            current += body
            if tag == "<E>":
                words.append(current)
                current = None
        else:
            if current is not None:
                words.append(current)
                current = None
            words.append(t)
    if current is not None:
        words.append(current)
    return " ".join(words)
