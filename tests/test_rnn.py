"""reference_impl.rnn and reference_impl.gradient_flow against torch autograd, torch.nn.RNN with copied
weights, torch's clipping utilities and centred differences (all float64)."""
import numpy as np
import pytest
import torch

from reference_impl import gradient_flow as gf
from reference_impl import rnn
from reference_impl.numerics import numeric_gradient, rel_error

TOL = 1e-7  # the bound on the relative error of hand-written gradients in float64


def params(rng, D, H, O=None):
    p = {"U": rng.standard_normal((H, D)) * 0.5, "W": rng.standard_normal((H, H)) * 0.5,
         "b": rng.standard_normal(H) * 0.1}
    if O:
        p.update(V=rng.standard_normal((O, H)) * 0.5, c=rng.standard_normal(O) * 0.1)
    return p


def tt(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


# ---------------------------------------------------------------------------------------------- one step

@pytest.mark.parametrize("seed", range(3))
def test_step_backward_equals_autograd_and_numeric(seed):
    rng = np.random.default_rng(seed)
    N, D, H = rng.integers(1, 5), rng.integers(1, 6), rng.integers(1, 7)
    x, s_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    p = params(rng, D, H)
    ds = rng.standard_normal((N, H))
    s, cache = rnn.rnn_step_forward(x, s_prev, p["U"], p["W"], p["b"])
    grads = rnn.rnn_step_backward(ds, cache)

    T = {k: tt(v) for k, v in dict(x=x, s_prev=s_prev, **p).items()}
    # the slide's column form a = b + W s_prev + U x, one column per example
    s_t = torch.tanh(T["b"][:, None] + T["W"] @ T["s_prev"].T + T["U"] @ T["x"].T).T
    assert rel_error(s, s_t.detach().numpy()) < 1e-12
    (s_t * torch.from_numpy(ds)).sum().backward()
    for name, g in zip(("x", "s_prev", "U", "W", "b"), grads):
        assert g.shape == T[name].shape
        assert rel_error(g, T[name].grad.numpy()) < TOL, name

    def loss_of(name):
        def f(v):
            args = dict(x=x, s_prev=s_prev, **p)
            args[name] = v
            return np.sum(rnn.rnn_step_forward(**args)[0] * ds)
        return f

    for name, g in zip(("x", "s_prev", "U", "W", "b"), grads):
        value = dict(x=x, s_prev=s_prev, **p)[name].copy()
        assert rel_error(g, numeric_gradient(loss_of(name), value)) < TOL, name


def test_missing_tanh_derivative_is_caught():
    """The checks above can fail: a backward pass without (1 - s^2) differs from autograd."""
    rng = np.random.default_rng(0)
    x, s_prev, p, ds = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), params(rng, 3, 4), \
        rng.standard_normal((2, 4))
    s, cache = rnn.rnn_step_forward(x, s_prev, p["U"], p["W"], p["b"])
    good = rnn.rnn_step_backward(ds, cache)[3]
    wrong = ds.T @ s_prev  # dW without the tanh derivative
    assert rel_error(good, wrong) > 1e-2


# ---------------------------------------------------------------------------------------------- sequences

def torch_sequence(x, s0, p):
    """The slide's recurrence written directly with autograd tensors: (N, T, H)."""
    s, out = s0, []
    for t in range(x.shape[1]):
        s = torch.tanh(p["b"] + s @ p["W"].T + x[:, t] @ p["U"].T)
        out.append(s)
    return torch.stack(out, 1)


@pytest.mark.parametrize("seed", range(4))
def test_bptt_equals_autograd(seed):
    rng = np.random.default_rng(100 + seed)
    N, T, D, H = (int(v) for v in (rng.integers(1, 4), rng.integers(1, 9), rng.integers(1, 5), rng.integers(1, 6)))
    x, s0, p = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), params(rng, D, H)
    ds = rng.standard_normal((N, T, H))
    s, cache = rnn.rnn_forward(x, s0, **p)
    dx, ds0, dU, dW, db = rnn.rnn_backward(ds, cache)
    X, S0, P = tt(x), tt(s0), {k: tt(v) for k, v in p.items()}
    S = torch_sequence(X, S0, P)
    assert rel_error(s, S.detach().numpy()) < 1e-12
    (S * torch.from_numpy(ds)).sum().backward()
    for ours, theirs in ((dx, X), (ds0, S0), (dU, P["U"]), (dW, P["W"]), (db, P["b"])):
        assert ours.shape == theirs.shape
        assert rel_error(ours, theirs.grad.numpy()) < TOL


def test_bptt_equals_centred_differences():
    rng = np.random.default_rng(7)
    x, s0, p = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4)), params(rng, 3, 4)
    ds = rng.standard_normal((2, 5, 4))
    _, cache = rnn.rnn_forward(x, s0, **p)
    grads = dict(zip(("x", "s0", "U", "W", "b"), rnn.rnn_backward(ds, cache)))
    for name in grads:
        args = dict(x=x, s0=s0, **p)
        value = args[name].copy()

        def f(v, name=name):
            a = dict(args)
            a[name] = v
            return np.sum(rnn.rnn_forward(**a)[0] * ds)

        assert rel_error(grads[name], numeric_gradient(f, value)) < TOL, name


def test_gradients_must_be_summed_over_time():
    """The check can fail: keeping only the last step's dW differs from autograd."""
    rng = np.random.default_rng(8)
    x, s0, p = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 4)), params(rng, 3, 4)
    ds = rng.standard_normal((2, 6, 4))
    _, cache = rnn.rnn_forward(x, s0, **p)
    dW_total = rnn.rnn_backward(ds, cache)[3]
    dW_first_step = rnn.rnn_step_backward(ds[:, 0] + 0, cache[0])[3]
    assert rel_error(dW_total, dW_first_step) > 1e-2


def test_sequence_loss_and_grads_equal_autograd():
    rng = np.random.default_rng(9)
    N, T, D, H, O = 3, 6, 4, 5, 7
    x, s0, p = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), params(rng, D, H, O)
    y = rng.integers(0, O, size=(N, T))
    loss, grads = rnn.sequence_loss_and_grads(x, y, s0, p)
    X, S0, P = tt(x), tt(s0), {k: tt(v) for k, v in p.items()}
    o = torch_sequence(X, S0, P) @ P["V"].T + P["c"]
    L = torch.nn.functional.cross_entropy(o.reshape(N * T, O), torch.from_numpy(y).reshape(-1))
    L.backward()
    assert abs(loss - L.item()) < 1e-12
    for k in p:
        assert rel_error(grads[k], P[k].grad.numpy()) < TOL, k
    assert rel_error(grads["x"], X.grad.numpy()) < TOL
    assert rel_error(grads["s0"], S0.grad.numpy()) < TOL


def copy_into_torch_rnn(p, bidirectional_p=None):
    H, D = p["U"].shape
    ref = torch.nn.RNN(D, H, batch_first=True, bidirectional=bidirectional_p is not None).double()
    with torch.no_grad():
        for suffix, q in (("_l0", p), ("_l0_reverse", bidirectional_p)):
            if q is None:
                continue
            getattr(ref, "weight_ih" + suffix).copy_(torch.from_numpy(q["U"]))
            getattr(ref, "weight_hh" + suffix).copy_(torch.from_numpy(q["W"]))
            getattr(ref, "bias_ih" + suffix).copy_(torch.from_numpy(q["b"]) * 0.25)  # torch's two biases sum to b
            getattr(ref, "bias_hh" + suffix).copy_(torch.from_numpy(q["b"]) * 0.75)
    return ref


def test_numpy_forward_equals_torch_nn_rnn():
    rng = np.random.default_rng(10)
    x, s0, p = rng.standard_normal((3, 7, 4)), rng.standard_normal((3, 5)), params(rng, 4, 5)
    out, h_n = copy_into_torch_rnn(p)(torch.from_numpy(x), torch.from_numpy(s0)[None])
    s, _ = rnn.rnn_forward(x, s0, **p)
    assert rel_error(s, out.detach().numpy()) < 1e-12
    assert rel_error(s[:, -1], h_n[0].detach().numpy()) < 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_birnn_equals_torch_bidirectional_and_autograd(seed):
    rng = np.random.default_rng(20 + seed)
    N, T, D, H = (int(v) for v in (rng.integers(1, 4), rng.integers(1, 7), rng.integers(1, 5), rng.integers(1, 5)))
    x = rng.standard_normal((N, T, D))
    s0f, s0b = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    pf, pb = params(rng, D, H), params(rng, D, H)
    out, cache = rnn.birnn_forward(x, s0f, s0b, pf["U"], pf["W"], pf["b"], pb["U"], pb["W"], pb["b"])
    ref = copy_into_torch_rnn(pf, pb)
    X, H0 = tt(x), tt(np.stack([s0f, s0b]))
    ref_out, _ = ref(X, H0)
    assert out.shape == (N, T, 2 * H)
    assert rel_error(out, ref_out.detach().numpy()) < 1e-12
    dout = rng.standard_normal((N, T, 2 * H))
    grads = rnn.birnn_backward(dout, cache)
    (ref_out * torch.from_numpy(dout)).sum().backward()
    expected = (X.grad, H0.grad[0], H0.grad[1], ref.weight_ih_l0.grad, ref.weight_hh_l0.grad, ref.bias_ih_l0.grad,
                ref.weight_ih_l0_reverse.grad, ref.weight_hh_l0_reverse.grad, ref.bias_ih_l0_reverse.grad)
    for i, (ours, theirs) in enumerate(zip(grads, expected)):
        assert rel_error(ours, theirs.numpy()) < TOL, i


def test_shape_mistakes_name_expected_and_actual():
    rng = np.random.default_rng(0)
    p = params(rng, 3, 4)
    with pytest.raises(ValueError, match=r"s_prev: expected shape \(2, 4\), got \(2, 5\)"):
        rnn.rnn_step_forward(rng.standard_normal((2, 3)), rng.standard_normal((2, 5)), **p)
    with pytest.raises(ValueError, match=r"x: expected shape \(\?, \?, 3\), got \(2, 5, 4\)"):
        rnn.rnn_forward(rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 4)), **p)
    _, cache = rnn.rnn_forward(rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4)), **p)
    with pytest.raises(ValueError, match=r"ds: expected shape \(2, 5, 4\), got \(2, 4, 5\)"):
        rnn.rnn_backward(rng.standard_normal((2, 4, 5)), cache)


# ---------------------------------------------------------------------------------------------- clipping

def test_clip_by_global_norm_equals_torch():
    rng = np.random.default_rng(30)
    grads = [rng.standard_normal((3, 4)) * 5, rng.standard_normal(4), rng.standard_normal((2, 2, 2)) * 3]
    for max_norm in (0.5, 3.0, 1e6):
        ours, total = rnn.clip_by_global_norm(grads, max_norm)
        ps = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
        for p, g in zip(ps, grads):
            p.grad = torch.from_numpy(g.copy())
        torch_total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        assert abs(total - torch_total.item()) < 1e-12
        for a, p in zip(ours, ps):
            assert rel_error(a, p.grad.numpy()) < 1e-14
    joint = np.sqrt(sum(np.sum(g ** 2) for g in rnn.clip_by_global_norm(grads, 0.5)[0]))
    assert abs(joint - 0.5) < 1e-5


def test_per_tensor_clipping_is_not_global():
    """Clipping each tensor by its own norm (Keras's clipnorm) differs from the global rule."""
    grads = [np.array([3.0, 4.0]), np.array([0.3, 0.4])]
    ours, _ = rnn.clip_by_global_norm(grads, 1.0)
    per_tensor = [g * min(1.0, 1.0 / np.linalg.norm(g)) for g in grads]
    assert rel_error(ours[1], per_tensor[1]) > 0.5
    assert rel_error(ours[0] / ours[1], grads[0] / grads[1]) < 1e-12  # the global rule keeps the direction


def test_clip_by_value_equals_torch():
    rng = np.random.default_rng(31)
    grads = [rng.standard_normal((5, 3)) * 2, rng.standard_normal(7)]
    ours = rnn.clip_by_value(grads, 0.7)
    ps = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_value_(ps, 0.7)
    for a, p in zip(ours, ps):
        assert np.array_equal(a, p.grad.numpy())
    with pytest.raises(ValueError):
        rnn.clip_by_value(grads, 0.0)


# ---------------------------------------------------------------------------------------------- torch module

@pytest.mark.parametrize("kw", [
    dict(num_layers=1), dict(num_layers=2), dict(bidirectional=True), dict(num_layers=2, bidirectional=True),
    dict(batch_first=True, bidirectional=True), dict(nonlinearity="relu"), dict(bias=False, num_layers=2),
])
def test_torch_module_equals_torch_nn_rnn(kw):
    torch.manual_seed(0)
    D, H, N, T = 3, 5, 4, 6
    ref = torch.nn.RNN(D, H, **kw).double()
    ours = rnn.RNN(D, H, device="cpu", dtype=torch.float64, **kw)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    ours.load_state_dict(ref.state_dict())
    x = torch.randn((N, T, D) if kw.get("batch_first") else (T, N, D), dtype=torch.float64)
    L = ref.num_layers * (2 if ref.bidirectional else 1)
    h0 = torch.randn(L, N, H, dtype=torch.float64)
    out_ref, hn_ref = ref(x, h0)
    out, hn = ours(x, h0)
    assert torch.allclose(out, out_ref, atol=1e-12) and torch.allclose(hn, hn_ref, atol=1e-12)
    (out_ref.sum() + hn_ref.pow(2).sum()).backward()
    (out.sum() + hn.pow(2).sum()).backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters()):
        assert rel_error(p.grad, q.grad) < TOL, name
    out0, _ = ours(x)  # h0 defaults to zeros, as torch's
    assert torch.allclose(out0, ref(x)[0], atol=1e-12)


def test_torch_module_rejects_wrong_shapes():
    m = rnn.RNN(3, 4, device="cpu")
    with pytest.raises(ValueError, match=r"expected 3 features"):
        m(torch.zeros(5, 2, 7))
    with pytest.raises(ValueError, match=r"h0: expected shape \(1, 2, 4\), got \(2, 4\)"):
        m(torch.zeros(5, 2, 3), torch.zeros(2, 4))


# ---------------------------------------------------------------------------------------------- gradient flow

def test_jacobian_product_norms_equal_autograd():
    rng = np.random.default_rng(40)
    H, T = 4, 6
    W = rng.standard_normal((H, H))
    drive = rng.standard_normal((T, H))
    s0 = rng.standard_normal(H)
    states = gf.tanh_rnn_states(W, drive, s0)
    norms = gf.jacobian_product_norms(W, states)
    Wt = torch.from_numpy(W)
    for k in range(T + 1):
        # ds_T / ds_k by autograd: unroll from s_k (k = 0 is s0)
        start = torch.from_numpy(s0 if k == 0 else states[k - 1])

        def run(s, k=k):
            for t in range(k, T):
                s = torch.tanh(Wt @ s + torch.from_numpy(drive[t]))
            return s

        J = torch.autograd.functional.jacobian(run, start)
        assert abs(norms[T - k] - torch.linalg.matrix_norm(J, 2).item()) < 1e-10


def test_linear_jacobian_is_a_matrix_power():
    """With s = 0 (tanh' = 1) the product is W^k: norms follow ||W^k||, which shrinks for rho < 1."""
    rng = np.random.default_rng(41)
    W = rng.standard_normal((5, 5))
    W = W * (0.8 / np.max(np.abs(np.linalg.eigvals(W))))
    norms = gf.jacobian_product_norms(W, np.zeros((30, 5)))
    for k in (1, 5, 30):
        assert abs(norms[k] - np.linalg.norm(np.linalg.matrix_power(W, k), 2)) < 1e-10
    assert norms[30] < 0.1


def test_one_unit_rnn_gradient_and_clipped_sgd():
    loss, gw, gb = gf.one_unit_rnn_grad(4.0, -2.2)
    w = np.array([4.0, -2.2])
    num = numeric_gradient(lambda v: float(gf.one_unit_rnn_loss(v[0], v[1])), w, h=1e-6)
    assert rel_error(np.array([gw, gb]), num) < 1e-6
    assert abs(loss - float(gf.one_unit_rnn_loss(4.0, -2.2))) < 1e-15
    # from a start next to the cliff, the raw step jumps far; the clipped step is at most lr * max_norm
    raw = gf.sgd_trajectory(6.5, -2.5, lr=0.05, n_steps=20)
    clipped = gf.sgd_trajectory(6.5, -2.5, lr=0.05, n_steps=20, max_norm=1.0)
    raw_steps = np.hypot(np.diff(raw[:, 0]), np.diff(raw[:, 1]))
    clipped_steps = np.hypot(np.diff(clipped[:, 0]), np.diff(clipped[:, 1]))
    assert raw_steps.max() > 5.0
    assert clipped_steps.max() <= 0.05 * 1.0 + 1e-9
