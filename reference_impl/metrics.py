"""Automatic translation metrics: corpus BLEU, TER and a METEOR-style unigram F-mean.

All three compare token lists; a string is split on whitespace (no other tokenization, which is
sacrebleu's ``tokenize="none"``). Scores are fractions in [0, 1] (sacrebleu prints 100 times them).

* **BLEU** (Papineni et al. 2002): modified n-gram precisions ``p_n`` (each hypothesis n-gram counts at
  most as often as in the reference that has most of it), pooled over the corpus, combined as
  ``BP * exp(mean_n log p_n)`` with the brevity penalty ``BP = exp(1 - r/c)`` if the total hypothesis
  length ``c`` is below the total reference length ``r`` (for several references, each sentence
  contributes the length closest to its hypothesis, the shorter on ties), else 1. No smoothing: a
  zero precision makes BLEU 0.
* **TER** (Snover et al. 2006): the fewest insertions, deletions, substitutions and *shifts* of a
  phrase that turn the hypothesis into the reference, divided by the reference length. Finding the
  fewest shifts is NP-hard; TERCOM searches greedily, and so do we, with TERCOM's rules as sacrebleu
  implements them: a shift must move a phrase (at most 10 words, at most 50 positions away) that
  is wrong where it is and matches words of the reference that are wrong, the best shift (largest
  gain, then longest, earliest, earliest target) is taken while it helps, and at most 1000
  candidates are tried per sentence. Edit distances are computed exactly (sacrebleu restricts them
  to a band of 25 words around the diagonal, which only matters for sentences longer than that).
* **METEOR-style F-mean** (Lavie & Agarwal 2007, without stemming and synonyms): unigram precision P
  and recall R from matched words, ``F = 10 P R / (R + 9 P)``, optionally times ``1 - 0.5 (chunks /
  matches)^3``, the fragmentation penalty.
"""
import collections
import math
from dataclasses import dataclass

MAX_SHIFT_SIZE = 10
MAX_SHIFT_DIST = 50
MAX_SHIFT_CANDIDATES = 1000


def _tokens(x):
    return x.split() if isinstance(x, str) else list(x)


def ngrams(tokens, n: int) -> collections.Counter:
    """Counts of the n-grams (as tuples) of ``tokens``."""
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


# ----------------------------------------------------------------------------------------------
# BLEU


@dataclass
class BLEUStats:
    """Sufficient statistics of corpus BLEU: per order n, ``matches[n-1]`` of ``totals[n-1]`` n-grams."""

    matches: list
    totals: list
    hyp_len: int
    ref_len: int

    @property
    def precisions(self) -> list:
        return [m / t if t else 0.0 for m, t in zip(self.matches, self.totals)]

    @property
    def brevity_penalty(self) -> float:
        if self.hyp_len >= self.ref_len:
            return 1.0
        return math.exp(1.0 - self.ref_len / self.hyp_len) if self.hyp_len > 0 else 0.0

    @property
    def bleu(self) -> float:
        if any(m == 0 for m in self.matches):  # a zero (or undefined) precision: BLEU is 0
            return 0.0
        logs = [math.log(p) for p in self.precisions]
        return self.brevity_penalty * math.exp(sum(logs) / len(logs))


def bleu_stats(hypotheses, references, max_order: int = 4, multi_reference: bool = False) -> BLEUStats:
    """Pool BLEU's n-gram matches and lengths over a corpus.

    Inputs:
        hypotheses: N strings or token lists.
        references: N references (strings or token lists); with ``multi_reference``, N lists of them.
        max_order: the largest n.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    matches, totals = [0] * max_order, [0] * max_order
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references):
        hyp = _tokens(hyp)
        refs = [_tokens(r) for r in refs] if multi_reference else [_tokens(refs)]
        if not refs:
            raise ValueError("every hypothesis needs at least one reference")
        hyp_len += len(hyp)
        ref_len += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
        for n in range(1, max_order + 1):
            h = ngrams(hyp, n)
            best = collections.Counter()
            for r in refs:
                best |= ngrams(r, n)  # elementwise maximum over the references
            matches[n - 1] += sum(min(c, best[g]) for g, c in h.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    return BLEUStats(matches, totals, hyp_len, ref_len)


def corpus_bleu(hypotheses, references, max_order: int = 4, multi_reference: bool = False) -> float:
    """Corpus BLEU in [0, 1] (see the module docstring); no smoothing.

    >>> corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"])
    1.0
    """
    return bleu_stats(hypotheses, references, max_order, multi_reference).bleu


def sentence_bleu(hypothesis, reference, max_order: int = 4) -> float:
    """BLEU of one sentence against one reference (0 as soon as an n-gram order has no match)."""
    return corpus_bleu([hypothesis], [reference], max_order)


# ----------------------------------------------------------------------------------------------
# TER


def edit_distance_trace(hyp, ref):
    """Levenshtein distance turning ``hyp`` into ``ref`` and one optimal sequence of operations.

    Ties are broken as TERCOM does: match/substitution first, then deleting a hypothesis word, then
    inserting a reference word.

    Returns:
        (distance, trace) with trace a string over ``' '`` (match), ``'s'``, ``'d'`` (hypothesis word
        dropped), ``'i'`` (reference word inserted), read left to right.
    """
    n, m = len(hyp), len(ref)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    op = [[""] * (m + 1) for _ in range(n + 1)]
    for j in range(1, m + 1):
        cost[0][j], op[0][j] = j, "i"
    for i in range(1, n + 1):
        cost[i][0], op[i][0] = i, "d"
        for j in range(1, m + 1):
            same = hyp[i - 1] == ref[j - 1]
            best, best_op = cost[i - 1][j - 1] + (0 if same else 1), " " if same else "s"
            if cost[i - 1][j] + 1 < best:
                best, best_op = cost[i - 1][j] + 1, "d"
            if cost[i][j - 1] + 1 < best:
                best, best_op = cost[i][j - 1] + 1, "i"
            cost[i][j], op[i][j] = best, best_op
    trace, i, j = [], n, m
    while i > 0 or j > 0:
        o = op[i][j]
        trace.append(o)
        if o in " s":
            i, j = i - 1, j - 1
        elif o == "i":
            j -= 1
        else:
            i -= 1
    return cost[n][m], "".join(reversed(trace))


def _alignment(trace):
    """From a hyp->ref trace: ref position -> hyp position, and which ref / hyp words are in error."""
    align, ref_err, hyp_err = {}, [], []
    h = r = -1
    for o in trace:
        if o in " s":
            h, r = h + 1, r + 1
            align[r] = h
            hyp_err.append(int(o == "s"))
            ref_err.append(int(o == "s"))
        elif o == "d":  # a hypothesis word with no reference partner
            h += 1
            hyp_err.append(1)
        else:  # "i": a reference word with no hypothesis partner; aligned to the hyp word before it
            r += 1
            align[r] = h
            ref_err.append(1)
    return align, ref_err, hyp_err


def shift_words(words, start: int, length: int, target: int) -> list:
    """Move ``words[start:start+length]`` so that it starts before position ``target`` of ``words``.

    (When ``target`` falls inside or just after the phrase, it counts positions of the list without
    the phrase, as TERCOM's implementation in sacrebleu does.)
    """
    phrase = words[start:start + length]
    if target < start:
        return words[:target] + phrase + words[target:start] + words[start + length:]
    if target > start + length:
        return words[:start] + words[start + length:target] + phrase + words[target:]
    return words[:start] + words[start + length:length + target] + phrase + words[length + target:]


def _matching_phrases(hyp, ref):
    """(start in hyp, start in ref, length) of equal phrases, at most MAX_SHIFT_SIZE words long."""
    for sh in range(len(hyp)):
        for sr in range(len(ref)):
            if abs(sr - sh) > MAX_SHIFT_DIST:
                continue
            length = 0
            while (sh + length < len(hyp) and sr + length < len(ref) and length < MAX_SHIFT_SIZE
                   and hyp[sh + length] == ref[sr + length]):
                length += 1
                yield sh, sr, length


def _best_shift(hyp, ref, checked):
    """The shift that lowers the edit distance most: (gain, shifted hyp, candidates checked so far)."""
    before, trace = edit_distance_trace(hyp, ref)
    align, ref_err, hyp_err = _alignment(trace)
    best = None
    for sh, sr, length in _matching_phrases(hyp, ref):
        if not any(hyp_err[sh:sh + length]) or not any(ref_err[sr:sr + length]):
            continue  # the phrase is already right where it is, or its reference words are matched
        if sh <= align[sr] < sh + length:
            continue
        previous = None
        for offset in range(-1, length):
            if sr + offset == -1:
                target = 0
            elif sr + offset in align:
                target = align[sr + offset] + 1
            else:
                break
            if target == previous:
                continue
            previous = target
            shifted = shift_words(hyp, sh, length, target)
            key = (before - edit_distance_trace(shifted, ref)[0], length, -sh, -target)
            checked += 1
            if best is None or key > best[0]:
                best = (key, shifted)
        if checked >= MAX_SHIFT_CANDIDATES:
            break
    if best is None:
        return 0, hyp, checked
    return best[0][0], best[1], checked


def translation_edit_rate(hypothesis, reference):
    """TER's numbers for one sentence: (fewest edits found including shifts, reference length)."""
    hyp, ref = _tokens(hypothesis), _tokens(reference)
    if not ref:
        return len(hyp), 0
    shifts, checked = 0, 0
    while True:
        gain, shifted, checked = _best_shift(hyp, ref, checked)
        if checked >= MAX_SHIFT_CANDIDATES or gain <= 0:
            break
        shifts += 1
        hyp = shifted
    return shifts + edit_distance_trace(hyp, ref)[0], len(ref)


def corpus_ter(hypotheses, references, multi_reference: bool = False) -> float:
    """Corpus TER: total edits / total reference length (several references: the fewest edits,
    divided by the mean reference length). 0 when everything is empty; 1 for words against empty references.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    edits = length = 0.0
    for hyp, refs in zip(hypotheses, references):
        refs = list(refs) if multi_reference else [refs]
        results = [translation_edit_rate(hyp, r) for r in refs]
        edits += min(e for e, _ in results)
        length += sum(n for _, n in results) / len(results)
    if length > 0:
        return edits / length
    return 1.0 if edits > 0 else 0.0


# ----------------------------------------------------------------------------------------------
# METEOR-style unigram F-mean


def _align_unigrams(hyp, ref):
    """Match each hypothesis word to the first unused equal reference word: list of (i_hyp, i_ref)."""
    free = collections.defaultdict(list)
    for j, w in enumerate(ref):
        free[w].append(j)
    pairs = []
    for i, w in enumerate(hyp):
        if free[w]:
            pairs.append((i, free[w].pop(0)))
    return pairs


def meteor_fmean(hypothesis, reference, penalty: bool = False, alpha: float = 0.9) -> float:
    """METEOR-style score of one sentence: ``P R / (alpha P + (1 - alpha) R)`` on exact unigram matches.

    ``alpha = 0.9`` gives METEOR's ``10 P R / (R + 9 P)``. With ``penalty``, multiply by
    ``1 - 0.5 (chunks / matches)^3``, where a chunk is a run of matches adjacent in both sentences.
    """
    hyp, ref = _tokens(hypothesis), _tokens(reference)
    pairs = _align_unigrams(hyp, ref)
    m = len(pairs)
    if m == 0:
        return 0.0
    p, r = m / len(hyp), m / len(ref)
    f = p * r / (alpha * p + (1 - alpha) * r)
    if penalty:
        chunks = 1 + sum(1 for (i0, j0), (i1, j1) in zip(pairs, pairs[1:]) if not (i1 == i0 + 1 and j1 == j0 + 1))
        f *= 1 - 0.5 * (chunks / m) ** 3
    return f


def corpus_meteor_fmean(hypotheses, references, penalty: bool = False) -> float:
    """Mean of :func:`meteor_fmean` over sentences."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return 0.0
    return sum(meteor_fmean(h, r, penalty) for h, r in zip(hypotheses, references)) / len(hypotheses)
