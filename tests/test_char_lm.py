"""The stdlib character corpus, the char-LM (training, bits/char, sampling and its stop rule) and the
probing utilities (labels from tokenize, AUC against scikit-learn, correlation against NumPy, HTML)."""
import math

import numpy as np
import pytest
import torch

from reference_impl import char_lm, data, probing, sequence_data


# ---------------------------------------------------------------------------------------------- corpus

def test_stdlib_corpus_is_deterministic_and_split_by_file():
    a = sequence_data.load_python_corpus(max_train_chars=200_000, max_heldout_chars=50_000)
    b = data.load("python_stdlib_chars", max_train_chars=200_000, max_heldout_chars=50_000)
    assert a.train_text == b.train_text and a.heldout_text == b.heldout_text
    assert len(a.train_text) >= 200_000 and len(a.heldout_text) >= 50_000
    assert not set(a.train_files) & set(a.heldout_files)
    assert set(a.train_text) <= set(sequence_data.ALPHABET)
    assert a.train_text.count(sequence_data.EOS) == len(a.train_files)
    assert "def " in a.train_text and '"""' in a.train_text


def test_corpus_folder_without_python_files_fails_clearly(tmp_path):
    (tmp_path / "notes.txt").write_text("no code here")
    with pytest.raises(FileNotFoundError, match=r"no Python \(\.py\) files under"):
        sequence_data.load_python_corpus(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sequence_data.load_python_corpus(tmp_path / "missing")


def test_corpus_from_any_folder(tmp_path):
    for i in range(4):
        (tmp_path / f"m{i}.py").write_text(f"x{i} = 'caf\u00e9'\n")
    corpus = sequence_data.load_python_corpus(tmp_path, heldout_every=2)
    assert corpus.heldout_files == ["m0.py", "m2.py"] and corpus.train_files == ["m1.py", "m3.py"]
    assert corpus.train_text == "x1 = 'caf?'\n" + sequence_data.EOS + "x3 = 'caf?'\n" + sequence_data.EOS


# ---------------------------------------------------------------------------------------------- model

def test_vocab_round_trip_and_unknown_character():
    v = char_lm.CharVocab()
    text = "def f(x):\n\treturn 'a'  # ok?"
    assert v.decode(v.encode(text)) == text
    with pytest.raises(KeyError, match="not in the vocabulary"):
        v.encode("caf\u00e9")


def test_bits_per_char_equals_direct_computation():
    torch.manual_seed(0)
    v = char_lm.CharVocab()
    model = char_lm.CharLM(len(v), hidden_size=16, embed_size=8, device="cpu")
    ids = v.encode("import os\nprint(os.sep)\n" * 3)
    bpc = char_lm.bits_per_char(model, ids, batch_size=1, bptt=7)  # several chunks, state carried
    with torch.no_grad():
        logits, _ = model(ids[None, :-1])
        direct = torch.nn.functional.cross_entropy(logits[0], ids[1:]).item() / math.log(2)
    assert abs(bpc - direct) < 1e-5


def test_training_learns_and_respects_its_budget():
    torch.manual_seed(0)
    v = char_lm.CharVocab()
    corpus = sequence_data.load_python_corpus(max_train_chars=60_000, max_heldout_chars=20_000)
    model = char_lm.CharLM(len(v), hidden_size=64, embed_size=16, cell="rnn", device="cpu")
    before = char_lm.bits_per_char(model, v.encode(corpus.heldout_text[:20_000]))
    hist = char_lm.train_char_lm(model, v.encode(corpus.train_text), steps=60, batch_size=16, bptt=32,
                                 log_every=20, progress=False)
    after = char_lm.bits_per_char(model, v.encode(corpus.heldout_text[:20_000]))
    assert hist["steps"] == 60 and hist["step"] == [20, 40, 60]
    assert before > math.log2(len(v)) - 0.5  # untrained: about uniform
    assert after < before - 1.5
    with pytest.raises(ValueError, match="steps= or seconds="):
        char_lm.train_char_lm(model, v.encode(corpus.train_text))


def test_sampling_stop_rules_and_temperature():
    v = char_lm.CharVocab()
    model = char_lm.CharLM(len(v), hidden_size=8, embed_size=4, device="cpu")
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.fill_(-50.0)
        model.head.bias[v.index["a"]] = 0.0
        model.head.bias[v.index["\n"]] = -1.0
    text, why = char_lm.sample(model, v, "x", max_len=20, temperature=0.05)
    assert (text, why) == ("a" * 20, "max_len")  # near-greedy at low temperature
    text, why = char_lm.sample(model, v, "x", max_len=500, temperature=3.0, stop=("\n",), seed=1)
    assert why == "stop string" and text.endswith("\n") and set(text) <= {"a", "\n"}
    with torch.no_grad():
        model.head.bias[v.eos] = 10.0
    assert char_lm.sample(model, v, "x", temperature=1.0) == ("", "eos")
    with pytest.raises(ValueError):
        char_lm.sample(model, v, "x", temperature=0.0)


def test_unit_activations_match_the_sequence_forward():
    torch.manual_seed(1)
    v = char_lm.CharVocab()
    ids = v.encode("for i in range(3):\n    pass\n")
    for cell in ("lstm", "rnn"):
        model = char_lm.CharLM(len(v), hidden_size=12, embed_size=6, cell=cell, device="cpu")
        acts = char_lm.unit_activations(model, ids)
        with torch.no_grad():
            h, _ = model.rnn(model.embed(ids)[None])
        assert acts["h"].shape == (len(ids), 12)
        assert np.allclose(acts["h"], h[0].numpy(), atol=1e-6)
        assert ("c" in acts) == (cell == "lstm")
        if cell == "lstm":  # cell states equal stepping torch.nn.LSTMCell with the same weights
            step = torch.nn.LSTMCell(6, 12)
            step.load_state_dict({k[:-3]: v for k, v in model.rnn.state_dict().items()})
            state, cs = None, []
            with torch.no_grad():
                for e in model.embed(ids):
                    state = step(e[None], state)
                    cs.append(torch.tanh(state[1][0]))
            assert np.allclose(acts["c"], torch.stack(cs).numpy(), atol=1e-6)


# ---------------------------------------------------------------------------------------------- probing

def test_string_labels_from_tokenize():
    src = 'x = "ab" + f\'{y}\'  # "no"\ns = """doc\nmore"""\n'
    mask = probing.inside_string(src)
    marked = "".join(ch if m else "_" for ch, m in zip(src, mask))
    assert marked == '____"ab"___f\'{y}\'' + "_" * 8 + "_" + "____" + '"""doc\nmore"""' + "_"  # comment, newline, 's = ' out
    with pytest.raises(SyntaxError, match="cannot tokenize"):
        probing.inside_string('x = """never closed\n')


def test_labelled_sources_keep_labels_of_whole_files():
    a, bad, b = 'x = """one\ntwo"""\n', 'def f(:\n    """unclosed\n', "y = 'z'\n"
    text, mask = probing.labelled_sources([a, bad, b], n_chars=len(a) + 5)
    assert text == a + b[:5]  # the file tokenize rejects is skipped, the last one is cut
    assert np.array_equal(mask, np.r_[probing.inside_string(a), probing.inside_string(b)[:5]])
    assert mask[len(a) + 4]  # the quote opening 'z' is inside a string though its closing quote was cut
    with pytest.raises(ValueError, match="could be tokenized"):
        probing.labelled_sources([bad], 10)


def test_position_and_indentation():
    src = "def f():\n    if x:\n\treturn 1\n"
    pos = probing.position_in_line(src)
    assert list(pos[:10]) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 0]
    depth = probing.indentation_depth(src)
    assert depth[0] == 0 and depth[src.index("if")] == 4 and depth[src.index("return")] == 8
    assert depth.shape == (len(src),)


def test_auc_equals_sklearn_including_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.3
    A = np.column_stack([rng.standard_normal(300) + y, np.round(rng.standard_normal(300)), y * 1.0, -(y * 1.0)])
    ours = probing.auc_per_unit(A, y)
    theirs = [roc_auc_score(y, A[:, h]) for h in range(A.shape[1])]
    assert np.allclose(ours, theirs, atol=1e-12)
    assert ours[2] == 1.0 and ours[3] == 0.0
    assert list(probing.best_units(ours, k=2, center=0.5)) == [2, 3]
    with pytest.raises(ValueError, match="both classes"):
        probing.auc_per_unit(A, np.zeros(300, bool))


def test_correlation_equals_numpy():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((100, 5))
    A[:, 4] = 3.0  # a constant unit scores 0
    v = A[:, 0] * 2 + rng.standard_normal(100)
    ours = probing.correlation_per_unit(A, v)
    for h in range(4):
        assert abs(ours[h] - np.corrcoef(A[:, h], v)[0, 1]) < 1e-12
    assert ours[4] == 0.0


def test_activation_html_escapes_and_checks_length():
    out = probing.activation_html("<a>&\n", np.array([-1.0, 0.0, 1.0, 0.5, 0.0]), title="unit 3")
    assert "&lt;" in out and "&amp;" in out and "<b>unit 3</b>" in out
    assert "rgb(0,0,255)" in out and "rgb(255,0,0)" in out and "rgb(255,255,255)" in out
    with pytest.raises(ValueError, match=r"expected shape \(5,\)"):
        probing.activation_html("<a>&\n", np.zeros(4))
