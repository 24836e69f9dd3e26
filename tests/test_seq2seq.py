"""Module 05 models: attention against independent formulas, beam search against exhaustive search.

* dot and general attention equal torch's scaled_dot_product_attention (scale 1, boolean mask);
  additive and concat equal a loop written from the papers' formulas; all weights sum to 1 and are
  exactly 0 on padding.
* beam search with beam 1 is greedy decoding; with a beam wide enough never to prune it is exhaustive
  search, so it must return the best length-normalized sequence of all.
"""
import itertools
import math

import pytest
import torch

from reference_impl import attention as att
from reference_impl import seq2seq as s2s
from reference_impl.tokenizers import EOS_ID, SOS_ID


def _batch(seed, B=4, S=7, Q=5, K=5):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(B, Q, generator=g, dtype=torch.float64)
    keys = torch.randn(B, S, K, generator=g, dtype=torch.float64)
    lengths = torch.randint(1, S + 1, (B,), generator=g)
    lengths[0] = S
    mask = torch.arange(S)[None, :] < lengths[:, None]
    return query, keys, mask, g


def _params(kind, Q, K, A, g):
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    return {"additive": dict(W_q=r(A, Q), W_k=r(A, K), v=r(A)), "dot": {},
            "general": dict(W=r(Q, K)), "concat": dict(W=r(A, Q + K), v=r(A))}[kind]


FUNCS = {"additive": att.additive_attention, "dot": att.dot_attention,
         "general": att.general_attention, "concat": att.concat_attention}


@pytest.mark.parametrize("kind", att.SCORES)
def test_weights_sum_to_one_and_vanish_on_padding(kind):
    for seed in range(5):
        query, keys, mask, g = _batch(seed)
        context, weights = FUNCS[kind](query, keys, mask, **_params(kind, 5, 5, 6, g))
        assert weights.shape == mask.shape and context.shape == (4, 5)
        assert torch.allclose(weights.sum(-1), torch.ones(4, dtype=torch.float64), atol=1e-12)
        assert bool((weights[~mask] == 0).all())            # exactly zero, not merely small
        assert bool((weights[mask] > 0).all())
        # the padding's content cannot leak into the context
        noisy = keys.masked_fill(~mask[..., None], 1e6)
        context2, _ = FUNCS[kind](query, noisy, mask, **_params(kind, 5, 5, 6, torch.Generator().manual_seed(99)))
        _, w2 = FUNCS[kind](query, noisy, mask, **_params(kind, 5, 5, 6, torch.Generator().manual_seed(99)))
        assert bool((w2[~mask] == 0).all())


def test_fully_masked_row_gives_zeros_not_nan():
    w = att.masked_softmax(torch.randn(2, 3), torch.tensor([[True, False, True], [False, False, False]]))
    assert torch.equal(w[1], torch.zeros(3)) and torch.isfinite(w).all()


def test_dot_and_general_equal_torch_sdpa():
    F = torch.nn.functional
    for seed in range(5):
        query, keys, mask, g = _batch(seed)
        ctx, w = att.dot_attention(query, keys, mask)
        expected = F.scaled_dot_product_attention(query[:, None, :], keys, keys, attn_mask=mask[:, None, :], scale=1.0)
        assert torch.allclose(ctx, expected[:, 0], atol=1e-12)
        W = torch.randn(5, 5, generator=g, dtype=torch.float64)
        ctx, w = att.general_attention(query, keys, mask, W)
        expected = F.scaled_dot_product_attention((query @ W)[:, None, :], keys, keys,
                                                  attn_mask=mask[:, None, :], scale=1.0)
        assert torch.allclose(ctx, expected[:, 0], atol=1e-12)


def test_additive_and_concat_equal_the_formula_written_as_loops():
    query, keys, mask, g = _batch(3, Q=4, K=6)
    p = _params("additive", 4, 6, 5, g)
    ctx, w = att.additive_attention(query, keys, mask, **p)
    for b in range(4):
        e = [float(p["v"] @ torch.tanh(p["W_q"] @ query[b] + p["W_k"] @ keys[b, j])) if mask[b, j] else -math.inf
             for j in range(keys.shape[1])]
        m = max(e)
        alpha = [math.exp(x - m) for x in e]
        alpha = torch.tensor([a / sum(alpha) for a in alpha], dtype=torch.float64)
        assert torch.allclose(w[b], alpha, atol=1e-12)
        assert torch.allclose(ctx[b], (alpha[:, None] * keys[b]).sum(0), atol=1e-12)
    pc = _params("concat", 4, 6, 5, g)
    ctx_c, w_c = att.concat_attention(query, keys, mask, **pc)
    ctx_a, w_a = att.additive_attention(query, keys, mask, pc["W"][:, :4], pc["W"][:, 4:], pc["v"])
    assert torch.allclose(w_c, w_a)
    for b in range(4):
        j = 0
        e = pc["v"] @ torch.tanh(pc["W"] @ torch.cat([query[b], keys[b, j]]))
        assert torch.isclose(att.concat_scores(query, keys, pc["W"], pc["v"])[b, j], e)


@pytest.mark.parametrize("kind", att.SCORES)
def test_module_with_precomputed_keys_equals_pure_function(kind):
    torch.manual_seed(0)
    module = att.Attention(kind, 6, 6, 5).double()
    query, keys, mask, _ = _batch(1, Q=6, K=6)
    c1, w1 = module(query, keys, mask)
    c2, w2 = module(query, keys, mask, projected=module.project_keys(keys))
    assert torch.allclose(c1, c2, atol=1e-12) and torch.allclose(w1, w2, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# model, decoding


def _model(attention="additive", V=6, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = s2s.Seq2SeqConfig(src_vocab=9, tgt_vocab=V, emb=8, hidden=8, attention=attention, attn_size=8, **kw)
    model = s2s.Seq2Seq(cfg).double().eval()
    with torch.no_grad():  # sharpen the untrained model's distributions so beams really differ
        model.decoder.out.weight.mul_(6.0)
    return model


def test_encoder_ignores_padding():
    model = _model(enc_layers=2, residual=True)
    src = torch.tensor([[4, 5, 6, EOS_ID, 0, 0], [4, 5, 6, 7, 8, EOS_ID]])
    mem, state = model.encode(src, torch.tensor([4, 6]))
    mem1, state1 = model.encode(src[:1, :4], torch.tensor([4]))
    assert torch.allclose(mem.keys[0, :4], mem1.keys[0], atol=1e-12)
    assert torch.allclose(state[0], state1[0], atol=1e-12)
    assert bool((mem.keys[0, 4:] == 0).all())


@pytest.mark.parametrize("attention", [None, "additive", "dot", "general", "concat"])
def test_beam_one_equals_greedy(attention):
    model = _model(attention, V=12)
    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        n = int(torch.randint(2, 8, (1,), generator=g))
        src = torch.cat([torch.randint(4, 9, (1, n), generator=g), torch.tensor([[EOS_ID]])], 1)
        greedy, _ = s2s.greedy_decode(model, src, torch.tensor([n + 1]), max_len=12)
        step_fn, state = model.step_function(src, torch.tensor([n + 1]))
        best = s2s.beam_search(step_fn, state, beam_size=1, max_len=12)
        g_tokens = [t for t in greedy[0].tolist() if t != 0]
        assert best[0].tokens == g_tokens


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
def test_wide_beam_finds_the_exhaustive_optimum(alpha):
    V, L = 6, 4  # 5 non-<eos> tokens, sequences of at most 4 tokens ending in <eos>: 156 of them
    model = _model("additive", V=V, seed=1)
    src = torch.tensor([[4, 5, 6, 7, EOS_ID]])
    step_fn, state = model.step_function(src, torch.tensor([5]))
    best_score, best_seq = -math.inf, None
    others = [t for t in range(V) if t != EOS_ID]
    for n in range(L):
        for prefix in itertools.product(others, repeat=n):
            seq = list(prefix) + [EOS_ID]
            score = s2s.sequence_log_prob(step_fn, state, seq) / s2s.length_penalty(len(seq), alpha)
            if score > best_score:
                best_score, best_seq = score, seq
    hyps = s2s.beam_search(step_fn, state, beam_size=V ** L, max_len=L, alpha=alpha)  # never prunes
    assert hyps[0].tokens == best_seq
    assert hyps[0].score == pytest.approx(best_score, abs=1e-9)
    for h in hyps[:20]:  # the bookkeeping of log-probabilities is right for every returned beam
        assert h.log_prob == pytest.approx(s2s.sequence_log_prob(step_fn, state, h.tokens), abs=1e-9)
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True)
    assert len(hyps) == sum(len(others) ** n for n in range(L))  # every sequence was kept


def test_beam_keeps_finished_hypotheses():
    # a table model: <eos> first has p = 0.4; every other path's total is below 0.4
    def step_fn(tokens, states):
        n = tokens.shape[0]
        lp = torch.full((n, 4), -50.0, dtype=torch.float64)
        for i, t in enumerate(tokens.tolist()):
            if t == SOS_ID:
                lp[i, EOS_ID], lp[i, 3] = math.log(0.4), math.log(0.6)
            else:
                lp[i, EOS_ID], lp[i, 3] = math.log(0.5), math.log(0.5)
        return lp, states, None

    hyps = s2s.beam_search(step_fn, torch.zeros(1, 1), beam_size=2, max_len=5)
    assert hyps[0].tokens == [EOS_ID] and hyps[0].log_prob == pytest.approx(math.log(0.4))
    assert s2s.beam_search(step_fn, torch.zeros(1, 1), beam_size=1, max_len=5)[0].tokens == [3, EOS_ID]


def test_free_running_with_argmax_equals_greedy():
    model = _model("general", V=10)
    src = torch.tensor([[4, 5, 6, EOS_ID], [7, 8, EOS_ID, 0]])
    lengths = torch.tensor([4, 3])
    greedy, _ = s2s.greedy_decode(model, src, lengths, max_len=6)
    tgt_in = torch.full((2, greedy.shape[1]), SOS_ID)
    logits, _ = model(src, lengths, tgt_in, teacher_forcing=0.0, sampling="argmax")
    pred = logits.argmax(-1)
    for b in range(2):
        toks = greedy[b].tolist()
        n = toks.index(EOS_ID) + 1 if EOS_ID in toks else len(toks)
        assert pred[b, :n].tolist() == toks[:n]


def test_scheduled_sampling_schedules():
    eps = s2s.scheduled_sampling_eps
    assert eps(0, "linear", k=1.0, c=0.01) == 1.0 and eps(50, "linear", k=1.0, c=0.01) == pytest.approx(0.5)
    assert eps(1000, "linear", k=1.0, c=0.01, eps_min=0.1) == 0.1
    assert eps(10, "exponential", k=0.9) == pytest.approx(0.9 ** 10)
    assert eps(0, "inverse_sigmoid", k=10) == pytest.approx(10 / 11)
    assert eps(100, "inverse_sigmoid", k=10) == pytest.approx(10 / (10 + math.exp(10)))
    values = [eps(i, "inverse_sigmoid", k=50) for i in range(0, 2000, 100)]
    assert values == sorted(values, reverse=True)
    assert eps(5, "teacher_forcing") == 1.0 and eps(5, "free_running") == 0.0
    with pytest.raises(ValueError):
        eps(1, "cosine")


def test_training_learns_a_small_task_and_translator_reports_bad_input(one_thread):
    pairs = [(w, w[::-1]) for w in ("".join(p) for p in itertools.product("abcd", repeat=3))]
    tr = s2s.build_translator(pairs, attention="dot", emb=16, hidden=24, device="cpu")
    result = s2s.train_seq2seq(tr.model, pairs, tr.src_tok, tr.tgt_tok, steps=150, batch_size=32, lr=1e-2,
                               progress=False)
    acc, _ = s2s.exact_match(tr, pairs)
    assert result.losses[-1] < 0.3 * result.losses[0]
    assert acc > 0.9, f"reversal of 3-letter strings: exact match {acc:.2f}"
    out = tr("abc", beam_size=3)
    assert out.output == "cba" and out.weights.shape == (4, 4)   # (cba<eos>) x (abc<eos>)
    for bad, words in [("", "empty"), ("abz", "'z'"), ("abcabcabc", "more than")]:
        assert words in tr.check(bad)
        with pytest.raises(s2s.TranslationInputError, match=words):
            tr(bad)
