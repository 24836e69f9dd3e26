"""Module 03's reference code against implementations nobody here wrote (PyTorch's cells and fused layers).

* cells and layers load PyTorch's state dicts and give equal outputs and gradients: float64 within 1e-10,
  float32 within 1e-6 (1 and 2 layers, bidirectional, batch_first both ways, given and zero initial state);
* the variant cell reduces to PyTorch's LSTMCell wherever the variant is expressible in it (NP, NIG,
  NFG, NOG via saturated gates; CIFG via negated forget rows; peepholes folded into biases for N = 1);
* the grading helpers accept the reference and name each recognised mistake;
* the sequence tasks are deterministic and have the stated baselines.
"""
import math

import pytest
import torch

from reference_impl import cell_grading, cells, sequence_tasks
from reference_impl import recurrent_layers as rl
from reference_impl.grading import GradingError

TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-6, atol=1e-6)}
DTYPES = [torch.float64, torch.float32]


def _close(a, b, dtype, what=""):
    assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
    torch.testing.assert_close(a, b, **TOL[dtype], msg=lambda m: f"{what}: {m}")


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors, allow_unused=True)


# ---------------------------------------------------------------------------------------------- cells


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_modules_equal_torch(kind, dtype, bias):
    torch.manual_seed(0)
    N, D, H = 5, 7, 6
    tcls, ocls = {"rnn": (torch.nn.RNNCell, cells.RNNCell), "lstm": (torch.nn.LSTMCell, cells.LSTMCell),
                  "gru": (torch.nn.GRUCell, cells.GRUCell)}[kind]
    ref = tcls(D, H, bias=bias).to(dtype)
    ours = ocls(D, H, bias=bias, dtype=dtype, device="cpu")
    ours.load_state_dict(ref.state_dict())  # the same names and shapes
    x = torch.randn(N, D, dtype=dtype, requires_grad=True)
    h = torch.randn(N, H, dtype=dtype, requires_grad=True)
    c = torch.randn(N, H, dtype=dtype, requires_grad=True)
    state = (h, c) if kind == "lstm" else h
    out_r, out_o = ref(x, state), ours(x, state)
    out_r = out_r if isinstance(out_r, tuple) else (out_r,)
    out_o = out_o if isinstance(out_o, tuple) else (out_o,)
    ups = [torch.randn_like(o) for o in out_r]
    inputs = [x, h] + ([c] if kind == "lstm" else [])
    g_r = _grads(sum((o * u).sum() for o, u in zip(out_r, ups)), inputs + list(ref.parameters()))
    g_o = _grads(sum((o * u).sum() for o, u in zip(out_o, ups)), inputs + list(ours.parameters()))
    for a, b in zip(out_o, out_r):
        _close(a, b, dtype, f"{kind} output")
    for k, (a, b) in enumerate(zip(g_o, g_r)):
        _close(a, b, dtype, f"{kind} gradient {k}")


def test_module_init_matches_torch_range():
    cell = cells.LSTMCell(3, 16, device="cpu")
    bound = 1 / math.sqrt(16)
    for p in cell.parameters():
        assert p.abs().max() <= bound and p.abs().max() > 0.5 * bound


def test_lstm_gates_and_update_agree_with_cell():
    torch.manual_seed(1)
    ref = torch.nn.LSTMCell(4, 3).double()
    x, h, c = torch.randn(2, 4).double(), torch.randn(2, 3).double(), torch.randn(2, 3).double()
    i, f, g, o = cells.lstm_gates(x, h, ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    c2 = f * c + i * g
    h_ref, c_ref = ref(x, (h, c))
    _close(c2, c_ref, torch.float64)
    _close(o * torch.tanh(c2), h_ref, torch.float64)


def _folded_bias_cell(ref, rows_delta_ih):
    """A copy of torch LSTMCell ``ref`` whose bias_ih is shifted by ``rows_delta_ih`` (4H,)."""
    m = torch.nn.LSTMCell(ref.input_size, ref.hidden_size).to(ref.weight_ih.dtype)
    m.load_state_dict(ref.state_dict())
    with torch.no_grad():
        m.bias_ih += rows_delta_ih
    return m


def test_peephole_cell_equals_torch_with_peepholes_folded_into_biases():
    """For one sequence (N = 1) p * c is a fixed vector: it can be added to the gate's bias."""
    torch.manual_seed(2)
    D, H = 4, 5
    ref = torch.nn.LSTMCell(D, H).double()
    x, h, c = torch.randn(1, D).double(), torch.randn(1, H).double(), torch.randn(1, H).double()
    p_i, p_f, p_o = (torch.randn(H).double() for _ in range(3))
    h1, c1 = cells.peephole_lstm_cell(x, h, c, ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh, p_i, p_f, p_o)
    zeros = torch.zeros(H).double()
    # c' does not depend on o: fold p_i c and p_f c, take c' from torch; then fold p_o c' for h'.
    step1 = _folded_bias_cell(ref, torch.cat([p_i * c[0], p_f * c[0], zeros, zeros]))
    _, c_torch = step1(x, (h, c))
    step2 = _folded_bias_cell(ref, torch.cat([p_i * c[0], p_f * c[0], zeros, p_o * c_torch[0]]))
    h_torch, _ = step2(x, (h, c))
    _close(c1, c_torch, torch.float64)
    _close(h1, h_torch, torch.float64)


def test_cifg_equals_torch_with_negated_forget_rows():
    torch.manual_seed(3)
    D, H = 3, 4
    cifg = cells.CIFGCell(D, H, dtype=torch.float64, device="cpu")
    ref = torch.nn.LSTMCell(D, H).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            i, g, o = getattr(cifg, name).chunk(3)
            getattr(ref, name).copy_(torch.cat([i, -i, g, o]))  # sigmoid(-a) = 1 - sigmoid(a)
    x, h, c = torch.randn(6, D).double(), torch.randn(6, H).double(), torch.randn(6, H).double()
    for a, b in zip(cifg(x, (h, c)), ref(x, (h, c))):
        _close(a, b, torch.float64)


@pytest.mark.parametrize("switch,saturate", [(None, None), ("input_gate", "i"), ("forget_gate", "f"),
                                             ("output_gate", "o")])
def test_variant_cell_reduces_to_torch(switch, saturate):
    """NP (no peepholes) is torch's LSTMCell; NIG/NFG/NOG equal it with the gate saturated open."""
    torch.manual_seed(4)
    D, H = 3, 5
    ref = torch.nn.LSTMCell(D, H).double()
    variant = cells.LSTMVariant(peepholes=False, **({switch: False} if switch else {}))
    v = cells.VariantLSTMCell(D, H, variant, dtype=torch.float64, device="cpu")
    if switch is None:
        assert set(v.state_dict()) == set(ref.state_dict())
    idx = {k: j for j, k in enumerate("ifgo")}
    with torch.no_grad():
        for pname in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            chunks = getattr(ref, pname).chunk(4)
            getattr(v, pname).copy_(torch.cat([chunks[idx[k]] for k in v.variant.rows]))
        if saturate:  # sigmoid(50) == 1 in float64: an always-open gate
            rows = slice(idx[saturate] * H, (idx[saturate] + 1) * H)
            for pname, value in (("weight_ih", 0.0), ("weight_hh", 0.0), ("bias_ih", 50.0), ("bias_hh", 0.0)):
                getattr(ref, pname)[rows] = value
    x, h, c = torch.randn(4, D).double(), torch.randn(4, H).double(), torch.randn(4, H).double()
    for a, b in zip(v(x, (h, c)), ref(x, (h, c))):
        _close(a, b, torch.float64, str(switch))


def test_variant_cell_named_variants_against_functions():
    torch.manual_seed(5)
    D, H, N = 3, 4, 6
    x, h, c = torch.randn(N, D).double(), torch.randn(N, H).double(), torch.randn(N, H).double()
    # V is the peephole LSTM
    v = cells.VariantLSTMCell(D, H, "V", dtype=torch.float64, device="cpu")
    p = v.peepholes
    ref = cells.peephole_lstm_cell(x, h, c, v.weight_ih, v.weight_hh, v.bias_ih, v.bias_hh, p[0], p[1], p[2])
    for a, b in zip(v(x, (h, c)), ref):
        _close(a, b, torch.float64, "V")
    # CIFG without peepholes is cifg_lstm_cell
    v = cells.VariantLSTMCell(D, H, cells.LSTMVariant(coupled=True, peepholes=False), dtype=torch.float64,
                              device="cpu")
    ref = cells.cifg_lstm_cell(x, h, c, v.weight_ih, v.weight_hh, v.bias_ih, v.bias_hh)
    for a, b in zip(v(x, (h, c)), ref):
        _close(a, b, torch.float64, "CIFG")
    # FGR with zero gate recurrence is V; with non-zero it differs and uses the previous gates
    fgr = cells.VariantLSTMCell(D, H, "FGR", dtype=torch.float64, device="cpu")
    vv = cells.VariantLSTMCell(D, H, "V", dtype=torch.float64, device="cpu")
    vv.load_state_dict({k: t for k, t in fgr.state_dict().items() if k != "weight_gg"})
    state = fgr.init_state(N)
    state = (h, c, torch.rand(N, 3 * H, dtype=torch.float64))
    with torch.no_grad():
        fgr.weight_gg.zero_()
    _close(fgr(x, state)[0], vv(x, (h, c))[0], torch.float64, "FGR(0)")
    with torch.no_grad():
        fgr.weight_gg.normal_()
    assert not torch.allclose(fgr(x, state)[0], vv(x, (h, c))[0])
    # NIAF: linear candidate; NOAF: h = o * c
    for name in ("NIAF", "NOAF"):
        m = cells.VariantLSTMCell(D, H, name, dtype=torch.float64, device="cpu")
        a = torch.nn.functional.linear(x, m.weight_ih, m.bias_ih) + torch.nn.functional.linear(h, m.weight_hh, m.bias_hh)
        a_i, a_f, a_g, a_o = a.chunk(4, 1)
        pi, pf, po = m.peepholes
        i, f = torch.sigmoid(a_i + pi * c), torch.sigmoid(a_f + pf * c)
        g = a_g if name == "NIAF" else torch.tanh(a_g)
        c2 = f * c + i * g
        o = torch.sigmoid(a_o + po * c2)
        h2 = o * (c2 if name == "NOAF" else torch.tanh(c2))
        _close(m(x, (h, c))[0], h2, torch.float64, name)


def test_variant_parameter_counts():
    D, H = 2, 8
    n = {k: sum(p.numel() for p in cells.VariantLSTMCell(D, H, k, device="cpu").parameters())
         for k in cells.GREFF_VARIANTS}
    lstm = 4 * H * (D + H + 2)
    assert n["NP"] == lstm and n["V"] == lstm + 3 * H
    assert n["CIFG"] == 3 * H * (D + H + 2) + 2 * H
    assert n["FGR"] == n["V"] + (3 * H) ** 2


def test_mi_lstm_reduces_to_lstm():
    torch.manual_seed(6)
    D, H = 3, 4
    ref = torch.nn.LSTMCell(D, H).double()
    mi = cells.MILSTMCell(D, H, dtype=torch.float64, device="cpu")
    with torch.no_grad():
        mi.weight_ih.copy_(ref.weight_ih)
        mi.weight_hh.copy_(ref.weight_hh)
        mi.bias.copy_(ref.bias_ih + ref.bias_hh)
        mi.alpha.zero_()
    x, h, c = torch.randn(5, D).double(), torch.randn(5, H).double(), torch.randn(5, H).double()
    for a, b in zip(mi(x, (h, c)), ref(x, (h, c))):
        _close(a, b, torch.float64, "MI(alpha=0)")
    with torch.no_grad():
        mi.alpha.fill_(1.0)
    assert not torch.allclose(mi(x, (h, c))[0], ref(x, (h, c))[0])


def test_mut1_follows_the_paper_equations():
    torch.manual_seed(7)
    H = 4
    m = cells.MUT1Cell(H, H, dtype=torch.float64, device="cpu")
    x, h = torch.randn(3, H).double(), torch.randn(3, H).double()
    W_xz, W_xr = m.weight_ih[:H], m.weight_ih[H:]
    W_hr, W_hh = m.weight_hh[:H], m.weight_hh[H:]
    b_z, b_r, b_h = m.bias[:H], m.bias[H:2 * H], m.bias[2 * H:]
    z = torch.sigmoid(x @ W_xz.T + b_z)
    r = torch.sigmoid(x @ W_xr.T + h @ W_hr.T + b_r)
    expected = torch.tanh((r * h) @ W_hh.T + torch.tanh(x) + b_h) * z + h * (1 - z)
    _close(m(x, h), expected, torch.float64, "MUT1")
    with pytest.raises(ValueError, match="input_size == hidden_size"):
        cells.MUT1Cell(3, 4)


def test_gru_reset_before_differs_only_through_the_reset_gate():
    torch.manual_seed(8)
    ref = torch.nn.GRUCell(3, 4).double()
    x, h = torch.randn(2, 3).double(), torch.randn(2, 4).double()
    w = (ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    assert not torch.allclose(cells.gru_cell_reset_before(x, h, *w), ref(x, h))
    with torch.no_grad():  # r = 1 everywhere: both forms agree
        ref.bias_ih[:4] = 50.0
    _close(cells.gru_cell_reset_before(x, h, *w), ref(x, h), torch.float64)


def test_set_forget_bias_on_torch_and_ours():
    t = cells.set_forget_bias(torch.nn.LSTM(3, 4, num_layers=2), 1.0)
    for layer in range(2):
        b = t.get_parameter(f"bias_ih_l{layer}") + t.get_parameter(f"bias_hh_l{layer}")
        assert torch.all(b[4:8] == 1.0)
    ours = cells.set_forget_bias(cells.LSTMCell(3, 4, device="cpu"), 2.0)
    assert torch.all((ours.bias_ih + ours.bias_hh)[4:8] == 2.0)
    with pytest.raises(ValueError):
        cells.set_forget_bias(cells.LSTMCell(3, 4, bias=False, device="cpu"), 1.0)


# ---------------------------------------------------------------------------------------------- layers

LAYER_CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2),
    dict(num_layers=1, bidirectional=True),
    dict(num_layers=2, bidirectional=True, batch_first=True),
    dict(num_layers=2, batch_first=True, bias=False),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("with_state", [False, True])
def test_layers_equal_torch(kind, config, dtype, with_state):
    torch.manual_seed(9)
    T, N, D, H = 6, 3, 5, 4
    tcls, ocls = (torch.nn.LSTM, rl.LSTM) if kind == "lstm" else (torch.nn.GRU, rl.GRU)
    ref = tcls(D, H, **config).to(dtype)
    ours = ocls(D, H, **config, dtype=dtype, device="cpu")
    ours.load_state_dict(ref.state_dict())
    L = config["num_layers"] * (2 if config.get("bidirectional") else 1)
    shape = (N, T, D) if config.get("batch_first") else (T, N, D)
    x = torch.randn(*shape, dtype=dtype, requires_grad=True)
    hx = None
    leaves = [x]
    if with_state:
        h0 = torch.randn(L, N, H, dtype=dtype, requires_grad=True)
        c0 = torch.randn(L, N, H, dtype=dtype, requires_grad=True)
        hx = (h0, c0) if kind == "lstm" else h0
        leaves += [h0, c0] if kind == "lstm" else [h0]

    def flat(res):
        out, st = res
        return [out] + (list(st) if isinstance(st, tuple) else [st])

    r, o = flat(ref(x, hx)), flat(ours(x, hx))
    ups = [torch.randn_like(t) for t in r]
    g_r = _grads(sum((t * u).sum() for t, u in zip(r, ups)), leaves + list(ref.parameters()))
    g_o = _grads(sum((t * u).sum() for t, u in zip(o, ups)), leaves + list(ours.parameters()))
    for k, (a, b) in enumerate(zip(o, r)):
        _close(a, b, dtype, f"output {k}")
    names = ["input"] + ["h0", "c0"][: len(leaves) - 1] + [n for n, _ in ref.named_parameters()]
    for name, a, b in zip(names, g_o, g_r):
        _close(a, b, dtype, f"gradient wrt {name}")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_scripted_layers_and_unbatched_input_equal_torch(kind):
    torch.manual_seed(10)
    tcls, ocls = (torch.nn.LSTM, rl.LSTM) if kind == "lstm" else (torch.nn.GRU, rl.GRU)
    ref = tcls(3, 4, num_layers=2, bidirectional=True).double()
    ours = ocls(3, 4, num_layers=2, bidirectional=True, scripted=True, dtype=torch.float64, device="cpu")
    ours.load_state_dict(ref.state_dict())
    for x in (torch.randn(5, 2, 3).double(), torch.randn(5, 3).double()):  # batched and unbatched
        r, o = ref(x), ours(x)
        _close(o[0], r[0], torch.float64, "output")
        st_r = r[1] if isinstance(r[1], tuple) else (r[1],)
        st_o = o[1] if isinstance(o[1], tuple) else (o[1],)
        for a, b in zip(st_o, st_r):
            _close(a, b, torch.float64, "state")


def test_layer_rejects_wrong_state_shape():
    with pytest.raises(ValueError, match="initial state"):
        rl.GRU(3, 4, num_layers=2, device="cpu")(torch.randn(5, 2, 3), torch.zeros(1, 2, 4))


def test_residual_stack_adds_layer_inputs():
    torch.manual_seed(11)
    plain = rl.LSTM(4, 4, num_layers=2, device="cpu")
    res = rl.LSTM(4, 4, num_layers=2, residual=True, device="cpu")
    res.load_state_dict(plain.state_dict())
    x = torch.randn(5, 2, 4)
    first = rl.LSTM(4, 4, num_layers=1, device="cpu")
    first.load_state_dict({k.replace("_l0", "_l0"): v for k, v in plain.state_dict().items() if "_l0" in k})
    y1, _ = first(x)
    _close(res(x)[0] - plain(x)[0], y1, torch.float32, "residual adds layer 1's input")


def test_unroll_with_the_lstm_cell_equals_the_layer():
    torch.manual_seed(12)
    cell = cells.LSTMCell(3, 5, dtype=torch.float64, device="cpu")
    layer = rl.LSTM(3, 5, batch_first=True, dtype=torch.float64, device="cpu")
    layer.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x = torch.randn(2, 7, 3).double()
    out, (h, c), states = rl.unroll(cell, x, keep_states=True)
    out2, (h2, c2) = layer(x)
    _close(out, out2, torch.float64)
    _close(c, c2[0], torch.float64)
    assert len(states) == 7


@pytest.mark.parametrize("kind", rl.CELL_KINDS)
def test_make_layer_kinds_run_forward_and_backward(kind):
    torch.manual_seed(13)
    fb = 1.0 if kind in ("lstm", "variant:V") else None
    model = rl.ManyToOne(rl.make_layer(kind, 2, 6, forget_bias=fb, device="cpu"), 1)
    x = torch.randn(3, 5, 2)
    y = model(x)
    assert y.shape == (3, 1)
    y.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_lstm_layer_equals_cudnn():
    torch.manual_seed(14)
    ref = torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True).cuda().double()
    ours = rl.LSTM(8, 16, num_layers=2, bidirectional=True, device="cuda", dtype=torch.float64)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(10, 4, 8, device="cuda", dtype=torch.float64)
    _close(ours(x)[0], ref(x)[0], torch.float64, "cuda")


# ---------------------------------------------------------------------------------------------- grading


@pytest.mark.parametrize("kind,fn", [("lstm", cells.lstm_cell), ("gru", cells.gru_cell),
                                     ("peephole", cells.peephole_lstm_cell), ("cifg", cells.cifg_lstm_cell)])
def test_check_cell_accepts_the_reference(kind, fn):
    cell_grading.check_cell(kind, fn, cell_grading.make_cases(kind, n=6, seed=3), grads=True)


def test_check_cell_accepts_a_reference_sequence():
    def lstm_forward(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
        return rl.lstm_layer(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)

    cell_grading.check_cell("lstm_forward", lstm_forward, cell_grading.make_cases("lstm_forward", n=4), grads=True)


def _lstm_from_pre(a, c, order="ifgo"):
    parts = dict(zip(order, a.chunk(4, 1)))
    c2 = torch.sigmoid(parts["f"]) * c + torch.sigmoid(parts["i"]) * torch.tanh(parts["g"])
    return torch.sigmoid(parts["o"]) * torch.tanh(c2), c2


def _cs231n(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    return _lstm_from_pre(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh, c, order="ifog")


def _transposed(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    return _lstm_from_pre(x @ weight_ih + bias_ih + h @ weight_hh + bias_hh, c)


def _transposed_cs231n(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    return _lstm_from_pre(x @ weight_ih + bias_ih + h @ weight_hh + bias_hh, c, order="ifog")


def _one_bias(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    return _lstm_from_pre(x @ weight_ih.T + bias_ih + h @ weight_hh.T, c)


def _detached(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    h2, c2 = cells.lstm_cell(x, h, c, weight_ih.detach(), weight_hh, bias_ih, bias_hh)
    return h2, c2


def _gru_paper(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    return cell_grading._gru_wrong(dict(x=x, h=h, weight_ih=weight_ih, weight_hh=weight_hh, bias_ih=bias_ih,
                                        bias_hh=bias_hh), "bhn_outside")


def _gru_zr(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    H = h.shape[1]
    gi, gh = x @ weight_ih.T + bias_ih, h @ weight_hh.T + bias_hh
    z, r = torch.sigmoid(gi[:, :H] + gh[:, :H]), torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


def _peep(where):
    def fn(**a):
        return cell_grading._peephole_wrong(a, where)
    return fn


@pytest.mark.parametrize("kind,fn,phrase", [
    ("lstm", _cs231n, "i, f, o, g -- CS231n's order"),
    ("lstm", _transposed, "transposed weights"),
    ("lstm", _transposed_cs231n, "transposed weights"),
    ("lstm", _one_bias, "ignores bias_hh"),
    ("lstm", _detached, "gradient with respect to weight_ih is missing"),
    ("gru", _gru_paper, "b_hn outside the reset product"),
    ("gru", cells.gru_cell_reset_before, "before the matrix product"),
    ("gru", _gru_zr, "gate order z, r, n"),
    ("peephole", _peep("if_new"), "peek at the new cell state"),
    ("peephole", _peep("o_old"), "output gate peeks at the previous cell state"),
    ("cifg", cell_grading._cifg_f_is_i, "f = 1 - i"),
])
def test_check_cell_names_the_mistake(kind, fn, phrase):
    if kind == "cifg":
        f = fn

        def fn(**a):
            return f(a)
    with pytest.raises(GradingError) as err:
        cell_grading.check_cell(kind, fn, cell_grading.make_cases(kind, n=4, seed=5), grads=True)
    assert phrase in str(err.value), str(err.value)
    if "transposed" in phrase and fn is _transposed_cs231n:
        assert "CS231n" in str(err.value)


# ---------------------------------------------------------------------------------------------- tasks


def test_adding_problem_is_deterministic_and_has_the_stated_baseline():
    x, y = sequence_tasks.adding_problem(20000, 30, seed=1, device="cpu")
    x2, y2 = sequence_tasks.adding_problem(20000, 30, seed=1, device="cpu")
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(sequence_tasks.adding_problem(5, 30, seed=2, device="cpu")[0], x[:5])
    assert x.shape == (20000, 30, 2) and y.shape == (20000,)
    assert torch.all(x[:, :15, 1].sum(1) == 1) and torch.all(x[:, 15:, 1].sum(1) == 1)
    assert torch.allclose((x[..., 0] * x[..., 1]).sum(1), y)
    mse_of_mean = ((y - 1.0) ** 2).mean().item()
    assert abs(mse_of_mean - sequence_tasks.ADDING_BASELINE_MSE) < 0.01


def test_long_lag_task():
    x, y = sequence_tasks.long_lag_task(500, 12, seed=3, device="cpu")
    assert x.shape == (500, 12, 9) and torch.all(x.sum(-1) == 1)
    assert torch.equal(x[:, 0, :4].argmax(1), y)
    assert torch.all(x[:, -1, 8] == 1) and torch.all(x[:, 1:-1, :4] == 0)
    assert set(y.tolist()) == {0, 1, 2, 3}


def test_training_reduces_the_adding_loss():
    torch.manual_seed(0)
    model = rl.ManyToOne(rl.make_layer("lstm", 2, 16, forget_bias=1.0, device="cpu"), 1)
    before, _ = sequence_tasks.evaluate(model, "adding", 6, device="cpu")
    hist = sequence_tasks.train(model, "adding", 6, steps=200, lr=2e-2, device="cpu")
    assert hist.test_loss < 0.2 * sequence_tasks.ADDING_BASELINE_MSE < before, (before, hist.test_loss)
