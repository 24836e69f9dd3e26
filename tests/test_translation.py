"""Module 05 data and metrics: corpora are real and deterministic; BLEU and TER equal sacrebleu's.

sacrebleu (Post 2018) is the reference implementation of both metrics; we compare on whitespace
tokens (``tokenize="none"``, TER ``case_sensitive=True``), BLEU without smoothing.
"""
import math
import random

import pytest

from reference_impl import data, metrics, tokenizers, translation_data
from reference_impl.data import DataUnavailableError

sacrebleu = pytest.importorskip("sacrebleu")
from sacrebleu.metrics import BLEU, TER  # noqa: E402

SACRE_BLEU = BLEU(tokenize="none", smooth_method="none", force=True)
SACRE_TER = TER(case_sensitive=True)


def _random_corpus(rng, n_max=6, vocab_max=8, len_max=15):
    vocab = rng.randint(2, vocab_max)

    def sentence():
        return " ".join(f"w{rng.randrange(vocab)}" for _ in range(rng.randint(0, len_max)))

    n = rng.randint(1, n_max)
    return [sentence() for _ in range(n)], [sentence() for _ in range(n)]


# ----------------------------------------------------------------------------------------------
# BLEU


def test_bleu_equals_sacrebleu_on_random_corpora():
    rng = random.Random(0)
    nonzero = 0
    for _ in range(300):
        hyps, refs = _random_corpus(rng)
        expected = SACRE_BLEU.corpus_score(hyps, [refs]).score / 100
        assert metrics.corpus_bleu(hyps, refs) == pytest.approx(expected, abs=1e-6), (hyps, refs)
        nonzero += expected > 0
    assert nonzero > 50  # the comparison is not only between zeros


def test_bleu_equals_sacrebleu_with_several_references():
    rng = random.Random(1)
    for _ in range(100):
        hyps, refs_a = _random_corpus(rng, vocab_max=4)
        refs_b = [" ".join(r.split()[: rng.randint(0, 12)]) or "w0" for r in refs_a]
        expected = SACRE_BLEU.corpus_score(hyps, [refs_a, refs_b]).score / 100
        ours = metrics.corpus_bleu(hyps, list(zip(refs_a, refs_b)), multi_reference=True)
        assert ours == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("hyps, refs", [
    (["the cat sat on the mat"], ["the cat sat on the mat"]),                  # perfect: 1
    ([""], ["the cat sat on the mat"]),                                        # empty hypothesis: 0
    (["", "a b c d e"], ["x y", "a b c d e"]),                                 # one empty among others
    (["the cat sat"], ["the cat sat on the mat"]),                             # shorter: brevity penalty
    (["the cat sat on the mat today again"], ["the cat sat on the mat"]),      # longer: no penalty
    (["the the the the the the"], ["the cat sat on the mat"]),                 # clipping
    (["a b c"], ["a b c"]),                                                    # 3 words: no 4-grams at all
    (["a b c d"], ["a b c d"]),
])
def test_bleu_edge_cases_equal_sacrebleu(hyps, refs):
    expected = SACRE_BLEU.corpus_score(hyps, [refs]).score / 100
    assert metrics.corpus_bleu(hyps, refs) == pytest.approx(expected, abs=1e-6)


def test_brevity_penalty_formula():
    stats = metrics.bleu_stats(["a b c d e"], ["a b c d e f g h i j"])
    assert stats.brevity_penalty == pytest.approx(math.exp(1 - 10 / 5))
    assert metrics.bleu_stats(["a b"], ["a"]).brevity_penalty == 1.0


# ----------------------------------------------------------------------------------------------
# TER and the METEOR-style F-mean


def test_ter_equals_sacrebleu_on_random_corpora():
    rng = random.Random(2)
    shifted = 0
    for _ in range(300):
        hyps, refs = _random_corpus(rng, n_max=4)
        expected = SACRE_TER.corpus_score(hyps, [refs]).score / 100
        assert metrics.corpus_ter(hyps, refs) == pytest.approx(expected, abs=1e-9), (hyps, refs)
        shifted += any(metrics.translation_edit_rate(h, r)[0] < metrics.edit_distance_trace(h.split(), r.split())[0]
                       for h, r in zip(hyps, refs))
    assert shifted > 20  # shifts really happen in these corpora


@pytest.mark.parametrize("hyp, ref", [
    ("", "a b c"), ("a b c", ""), ("", ""),
    ("c d a b", "a b c d"),                       # one shift of a phrase
    ("on the mat the cat sat", "the cat sat on the mat"),
    ("a a a a b b b b", "b b b b a a a a"),
])
def test_ter_edge_cases_equal_sacrebleu(hyp, ref):
    expected = SACRE_TER.corpus_score([hyp], [[ref]]).score / 100
    assert metrics.corpus_ter([hyp], [ref]) == pytest.approx(expected, abs=1e-9)


def test_ter_counts_a_shift_as_one_edit():
    assert metrics.translation_edit_rate("on the mat the cat sat", "the cat sat on the mat") == (1, 6)
    assert metrics.edit_distance_trace("on the mat the cat sat".split(), "the cat sat on the mat".split())[0] == 6


def test_meteor_fmean_by_hand():
    # 3 matches of 4 hypothesis and 6 reference words: P = 3/4, R = 1/2, F = 10PR / (R + 9P)
    p, r = 0.75, 0.5
    assert metrics.meteor_fmean("the cat sat there", "the cat sat on the mat") == pytest.approx(10 * p * r / (r + 9 * p))
    # "sat the cat": 3 matches in 2 chunks ("sat") ("the cat"): penalty 0.5 (2/3)^3
    f = metrics.meteor_fmean("sat the cat", "the cat sat", penalty=True)
    assert f == pytest.approx(1.0 * (1 - 0.5 * (2 / 3) ** 3))
    assert metrics.meteor_fmean("x", "y") == 0.0


# ----------------------------------------------------------------------------------------------
# tokenizers


def test_bpe_reproduces_sennrich_et_al_toy_example():
    # Sennrich, Haddow & Birch (2016), Algorithm 1 on {low: 5, lower: 2, newest: 6, widest: 3}
    merges = tokenizers.learn_bpe({"low": 5, "lower": 2, "newest": 6, "widest": 3}, 10)
    assert merges == [("e", "s"), ("es", "t"), ("est", "</w>"), ("l", "o"), ("lo", "w"), ("n", "e"),
                      ("ne", "w"), ("new", "est</w>"), ("low", "</w>"), ("w", "i")]
    assert tokenizers.apply_bpe("lowest", merges) == ["low", "est</w>"]
    assert tokenizers.apply_bpe("lower", merges) == ["low", "e", "r", "</w>"]


def test_bpe_segmentation_round_trips_and_compresses():
    corpus = [s for s, _ in translation_data.number_pairs("en", "de", range(1, 400))]
    tok = tokenizers.BPETokenizer.from_corpus(corpus, num_merges=60)
    for text in corpus[::37] + ["ninety-nine thousand"]:
        assert tok.decode(tok.encode(text, strict=True)) == " ".join(text.split())
    n_chars = sum(len(t.replace(" ", "")) for t in corpus)
    n_bpe = sum(len(tok.tokenize(t)) for t in corpus)
    assert n_bpe < 0.5 * n_chars


def test_mixed_word_char_matches_gnmt_example():
    assert tokenizers.mixed_word_char("Miki saw a cat", {"saw", "a", "cat"}) == [
        "<B>M", "<M>i", "<M>k", "<E>i", "saw", "a", "cat"]
    assert tokenizers.unmix_word_char(tokenizers.mixed_word_char("Miki and X saw", {"saw"})) == "Miki and X saw"


def test_vocab_reports_unknown_characters():
    tok = tokenizers.CharTokenizer.from_corpus(["abc", "cab"])
    assert tok.vocab.itos[:4] == list(tokenizers.SPECIALS)
    assert tok.decode(tok.encode("cab")) == "cab"
    assert "'z'" in tok.describe_unknown("caz")
    with pytest.raises(tokenizers.UnknownTokenError) as err:
        tok.encode("zz", strict=True)
    assert err.value.unknown == ("z",)


# ----------------------------------------------------------------------------------------------
# corpora


def test_number_corpus_is_real_and_deterministic():
    a = data.load("numbers", src="en", tgt="de", high=300)
    b = data.load("numbers", src="en", tgt="de", high=300)
    assert a.train == b.train and a.test == b.test
    assert len(a.all_pairs()) == 300 and len(set(a.all_pairs())) == 300
    pairs = dict(a.all_pairs())
    assert pairs["forty-seven"] == "siebenundvierzig"   # units before tens: the alignment crosses
    assert dict(translation_data.number_pairs("en", "ru", [21]))["twenty-one"] == "двадцать один"
    assert dict(translation_data.number_pairs("en", "fr", [80]))["eighty"] == "quatre-vingts"
    c = data.load("numbers", src="en", tgt="de", high=300, seed=1)
    assert c.train != a.train


def test_date_corpus_maps_many_locales_to_iso():
    corpus = data.load("dates", n=400)
    import datetime
    for src, iso in corpus.train[:50]:
        day = datetime.date.fromisoformat(iso)
        assert str(day.year) in src
    assert len({s for s, _ in corpus.all_pairs()}) == 400
    assert translation_data.format_date(datetime.date(1987, 3, 9), "de_DE", "long") == "9. März 1987"
    assert translation_data.format_date(datetime.date(1987, 3, 9), "ru_RU", "long") == "9 марта 1987 г."
    assert data.load("dates", n=400).test == corpus.test


def test_grammar_corpus_trees_are_balanced():
    corpus = data.load("grammar", n=300)
    for s, tree in corpus.train:
        depth = 0
        for tok in tree.split():
            depth += tok.startswith("(") - tok.startswith(")")
            assert depth >= 0
        assert depth == 0 and len(s.split()) == sum(not t[0] in "()" for t in tree.split())


def test_tatoeba_offline_error_names_offline_corpora(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_DOWNLOAD", raising=False)
    with pytest.raises(DataUnavailableError) as err:
        data.load("tatoeba", lang="deu")
    message = str(err.value)
    assert "load('numbers')" in message and "load('dates')" in message and "download=True" in message


def test_tatoeba_reads_cached_anki_file(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    folder = tmp_path / "tatoeba"
    folder.mkdir()
    lines = [f"Sentence {i}.\tSatz {i}.\tCC-BY 2.0 (France) Attribution: tatoeba.org #{i}" for i in range(40)]
    (folder / "deu.txt").write_text("\n".join(lines + ["", "broken line"]), encoding="utf-8")
    corpus = data.load("tatoeba", lang="deu")
    assert len(corpus.all_pairs()) == 40
    assert ("Sentence 3.", "Satz 3.") in corpus.all_pairs()
