"""Grading of recurrent cells written by students (module 03): equal outputs and gradients against
PyTorch with PyTorch's weights, and, when they differ, a diagnosis that names the usual mistake.

    >>> from reference_impl.cell_grading import make_cases, check_cell
    >>> check_cell("lstm", lstm_cell, make_cases("lstm", n=6, seed=1), grads=True)

Kinds and what each student function is called with (PyTorch's layout; N batch, D input, H hidden):

    "lstm"      lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh) -> (h', c')
                expected: ``torch.nn.LSTMCell`` holding these weights (rows i, f, g, o).
    "gru"       gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> h'
                expected: ``torch.nn.GRUCell`` (rows r, z, n; b_hn inside the reset product).
    "peephole"  peephole_lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh,
                                   peephole_i, peephole_f, peephole_o) -> (h', c')
                expected: :func:`reference_impl.cells.peephole_lstm_cell` (i, f peek at c, o at c').
    "cifg"      cifg_lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh) -> (h', c'), rows i, g, o
                expected: ``torch.nn.LSTMCell`` whose forget rows are the negated input rows, since
                sigmoid(-a) = 1 - sigmoid(a) -- an implementation of f = 1 - i nobody here wrote.
    "lstm_forward"  lstm_forward(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh) -> (out, h_T, c_T)
                with x of shape (T, N, D); expected: a one-layer ``torch.nn.LSTM``.

The diagnosis re-runs the student's function on the failing input, also with every weight matrix
transposed, and compares the result with the outputs of known wrong variants (other gate orders --
CS231n's i, f, o, g among them --, the paper GRU, peepholes on the wrong cell state, a dropped bias,
...). A match becomes the ``hint`` of the failure message.
"""
import itertools
from dataclasses import dataclass

import torch

from . import cells
from .grading import GradingError, HIDDEN_NOTE, _describe_inputs, assert_close, call_student, describe

GATE_ORDER = {"lstm": "ifgo", "peephole": "ifgo", "cifg": "igo", "gru": "rzn", "lstm_forward": "ifgo"}
_HAS_C = {"lstm", "peephole", "cifg"}
TOLERANCE = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-5, atol=1e-6)}


@dataclass
class Case:
    """One graded input: ``args`` are the keyword arguments of the student's function."""

    kind: str
    args: dict

    @property
    def dtype(self):
        return self.args["x"].dtype


# ----------------------------------------------------------------------------------------------
# cases and expected results (PyTorch's own modules wherever PyTorch has the cell)


def make_cases(kind, n=4, seed=0, dtypes=(torch.float64, torch.float32), sizes=None):
    """``n`` seeded cases for ``kind``; weights come from PyTorch's own cell initialised with the seed.

    ``sizes``: optional list of (N, D, H) (T, N, D, H for "lstm_forward"); otherwise drawn at random.
    """
    if kind not in GATE_ORDER:
        raise ValueError(f"kind must be one of {sorted(GATE_ORDER)}, got {kind!r}")
    g = torch.Generator().manual_seed(seed)
    out = []
    for k in range(n):
        dtype = dtypes[k % len(dtypes)]
        if sizes is not None:
            size = sizes[k % len(sizes)]
        elif kind == "lstm_forward":
            size = tuple(int(v) for v in torch.randint(1, 6, (4,), generator=g))
        else:
            size = tuple(int(v) for v in torch.randint(1, 6, (3,), generator=g))
        T, (N, D, H) = (size[0], size[1:]) if kind == "lstm_forward" else (None, size)
        cell_cls = torch.nn.GRUCell if kind == "gru" else torch.nn.LSTMCell
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 7919 + k)
            ref = cell_cls(D, H).to(dtype)
        w = {name: p.detach().clone() for name, p in ref.named_parameters()}

        def rand(*shape, scale=1.0):
            return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).to(dtype)

        if kind == "lstm_forward":
            args = dict(x=rand(T, N, D), h0=rand(N, H, scale=0.5), c0=rand(N, H))
        else:
            args = dict(x=rand(N, D), h=rand(N, H, scale=0.5))
            if kind in _HAS_C:
                args["c"] = rand(N, H)
        if kind == "cifg":
            keep = [0, 2, 3]
            w = {k_: torch.cat([v.chunk(4)[j] for j in keep]) for k_, v in w.items()}
        args.update(w)
        if kind == "peephole":
            bound = 1.0 / H ** 0.5
            for gate in "ifo":
                args[f"peephole_{gate}"] = ((torch.rand(H, generator=g, dtype=torch.float64) * 2 - 1) * bound).to(dtype)
        out.append(Case(kind, args))
    return out


def _torch_cell(kind, a):
    """(a PyTorch module of the right sizes, its parameters taken from ``a``) -- the module is LSTMCell,
    GRUCell, or LSTM for lstm_forward; the parameters are ``a``'s tensors themselves (so that autograd
    reaches them), to be used with ``torch.func.functional_call``."""
    if kind == "lstm_forward":
        D, H = a["x"].shape[2], a["h0"].shape[1]
        m = torch.nn.LSTM(D, H, device="meta")
        params = {f"{k}_l0": a[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    else:
        D, H = a["x"].shape[1], a["h"].shape[1]
        m = (torch.nn.GRUCell if kind == "gru" else torch.nn.LSTMCell)(D, H, device="meta")
        params = {k: a[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        if kind == "cifg":  # rows i, g, o -> i, f = -i, g, o
            params = {k: torch.cat([v.chunk(3)[0], -v.chunk(3)[0], v.chunk(3)[1], v.chunk(3)[2]])
                      for k, v in params.items()}
    return m, params


def expected_outputs(kind, a):
    """The correct outputs for arguments ``a`` (a tuple, one tensor for "gru"), differentiable in ``a``."""
    if kind == "peephole":
        return cells.peephole_lstm_cell(**a)
    m, params = _torch_cell(kind, a)
    call = torch.func.functional_call
    if kind == "gru":
        return call(m, params, (a["x"], a["h"]))
    if kind == "lstm_forward":
        out, (h, c) = call(m, params, (a["x"], (a["h0"][None], a["c0"][None])))
        return out, h[0], c[0]
    return call(m, params, (a["x"], (a["h"], a["c"])))


# ----------------------------------------------------------------------------------------------
# known wrong variants, each a function of the (correct) arguments


def _permuted(kind, a, order):
    """Arguments whose weight rows are rearranged so that the *correct* cell computes what a cell
    reading the stacked rows in ``order`` computes on ``a``."""
    true = GATE_ORDER[kind]
    b = dict(a)
    for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        chunks = a[k].chunk(len(true))
        b[k] = torch.cat([chunks[order.index(name)] for name in true])
    return b


def _peephole_wrong(a, where):
    x, h, c = a["x"], a["h"], a["c"]
    pre = torch.nn.functional.linear(x, a["weight_ih"], a["bias_ih"]) + torch.nn.functional.linear(
        h, a["weight_hh"], a["bias_hh"])
    a_i, a_f, a_g, a_o = pre.chunk(4, dim=1)
    g = torch.tanh(a_g)
    if where == "if_new":  # i, f peek at a cell state updated with peephole-free gates
        c_new = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * g
        i, f = torch.sigmoid(a_i + a["peephole_i"] * c_new), torch.sigmoid(a_f + a["peephole_f"] * c_new)
    else:
        i, f = torch.sigmoid(a_i + a["peephole_i"] * c), torch.sigmoid(a_f + a["peephole_f"] * c)
    c_next = f * c + i * g
    o = torch.sigmoid(a_o + a["peephole_o"] * (c if where == "o_old" else c_next))
    return o * torch.tanh(c_next), c_next


def _gru_wrong(a, variant):
    H = a["h"].shape[1]
    x, h = a["x"], a["h"]
    gi = torch.nn.functional.linear(x, a["weight_ih"], a["bias_ih"])
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    w_r, w_z, w_n = a["weight_hh"].split(H)
    b_r, b_z, b_n = a["bias_hh"].split(H)
    r = torch.sigmoid(i_r + h @ w_r.T + b_r)
    z = torch.sigmoid(i_z + h @ w_z.T + b_z)
    if variant == "bhn_outside":
        return (1 - z) * torch.tanh(i_n + r * (h @ w_n.T) + b_n) + z * h
    n = torch.tanh(i_n + r * (h @ w_n.T + b_n))
    return z * n + (1 - z) * h  # "swapped_z"


def _no_bias(a, which):
    b = dict(a)
    b[which] = torch.zeros_like(a[which])
    return b


def wrong_variants(kind):
    """``[(description, function of the arguments -> outputs)]`` of the mistakes we recognise."""
    exp = expected_outputs
    true = GATE_ORDER[kind]
    out = []
    for perm in itertools.permutations(true):
        order = "".join(perm)
        if order == true:
            continue
        note = " -- CS231n's order" if order == "ifog" else (" -- the slides' GRU order (z, r, ...)"
                                                             if order.startswith("zr") else "")
        out.append((f"your cell reads the stacked weight rows in the gate order {', '.join(order)}{note}; "
                    f"PyTorch stacks them as {', '.join(true)} (rows [0:H] are {true[0]}, [H:2H] are {true[1]}, ...)",
                    lambda a, order=order: exp(kind, _permuted(kind, a, order))))
    for b in ("bias_hh", "bias_ih"):
        out.append((f"your cell ignores {b}: PyTorch has two biases and adds both",
                    lambda a, b=b: exp(kind, _no_bias(a, b))))
    if kind == "gru":
        out.append(("you add b_hn outside the reset product, r * (W_hn h) + b_hn (the paper's GRU); PyTorch "
                    "multiplies the whole hidden projection: r * (W_hn h + b_hn)",
                    lambda a: _gru_wrong(a, "bhn_outside")))
        out.append(("you apply the reset gate before the matrix product, W_hn (r * h) (Cho et al.'s GRU); "
                    "PyTorch applies it after: r * (W_hn h + b_hn)", lambda a: cells.gru_cell_reset_before(**a)))
        out.append(("z and 1 - z are swapped: PyTorch's GRU keeps the old state where z = 1, "
                    "h' = (1 - z) * n + z * h", lambda a: _gru_wrong(a, "swapped_z")))
    if kind == "peephole":
        out.append(("your output gate peeks at the previous cell state c_{t-1}; in this cell (Gers & "
                    "Schmidhuber 2000, Greff et al. 2015) it peeks at the new c_t, computed before o",
                    lambda a: _peephole_wrong(a, "o_old")))
        out.append(("your input/forget gates peek at the new cell state c_t; they must peek at c_{t-1}, the "
                    "cell state the cell was given (only the output gate sees c_t)",
                    lambda a: _peephole_wrong(a, "if_new")))
        out.append(("your cell ignores the peephole weights", lambda a: cells.lstm_cell(
            **{k: v for k, v in a.items() if not k.startswith("peephole")})))
    if kind == "cifg":
        out.append(("your forget gate equals i; in CIFG it is f = 1 - i", lambda a: _cifg_f_is_i(a)))
    if kind in _HAS_C or kind == "lstm_forward":
        out.append(("you return (c_next, h_next); return (h_next, c_next)" if kind != "lstm_forward" else
                    "your outputs come in another order; return (out, h_T, c_T)",
                    lambda a: _swap_hc(exp(kind, a))))
    if kind == "lstm_forward":
        out.append(("your output sequence is reversed in time: out[t] must be h after step t",
                    lambda a: (exp(kind, a)[0].flip(0),) + tuple(exp(kind, a)[1:])))
    return out


def _swap_hc(res):
    return (res[1], res[0]) if len(res) == 2 else (res[0], res[2], res[1])


def _cifg_f_is_i(a):
    pre = torch.nn.functional.linear(a["x"], a["weight_ih"], a["bias_ih"]) + torch.nn.functional.linear(
        a["h"], a["weight_hh"], a["bias_hh"])
    a_i, a_g, a_o = pre.chunk(3, dim=1)
    i = torch.sigmoid(a_i)
    c_next = i * a["c"] + i * torch.tanh(a_g)
    return torch.sigmoid(a_o) * torch.tanh(c_next), c_next


def _transposed(a):
    return {k: (v.T.contiguous() if k.startswith("weight") else v) for k, v in a.items()}


def _matches(actual, expected, dtype):
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-5)
    if not isinstance(expected, tuple):
        actual, expected = (actual,), (expected,)
    if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
        return False
    try:
        return all(torch.is_tensor(x) and x.shape == e.shape and torch.allclose(x.detach().to(e.dtype), e, **tol)
                   for x, e in zip(actual, expected))
    except RuntimeError:
        return False


def diagnose(kind, student_fn, case):
    """A sentence naming the mistake the student's function makes on ``case``, or None if none matches."""
    a = {k: v.detach().clone() for k, v in case.args.items()}
    with torch.no_grad():
        candidates = [("", lambda a_: expected_outputs(kind, a_))] + wrong_variants(kind)
        candidates = [(d, f(a)) for d, f in candidates]
    shapes = "(4H, D) and (4H, H)" if GATE_ORDER[kind] in ("ifgo",) else "(3H, D) and (3H, H)"
    for transposed in (False, True):
        try:
            with torch.no_grad():
                got = student_fn(**(_transposed(a) if transposed else {k: v.clone() for k, v in a.items()}))
        except Exception:
            continue
        for desc, exp in candidates:
            if _matches(got, exp, case.dtype):
                if not transposed:
                    return desc[0].upper() + desc[1:] + "." if desc else None
                msg = (f"your cell gives the right answer only when it is given transposed weights: it treats "
                       f"weight_ih as (D, G*H) and computes x @ weight_ih, but PyTorch stores weights as "
                       f"(out, in), here {shapes}; compute x @ weight_ih.T (and h @ weight_hh.T)")
                return msg[0].upper() + msg[1:] + (f". Also, {desc}." if desc else ".")
    return None


# ----------------------------------------------------------------------------------------------
# the check called by the test cells


def _call_name(kind, case):
    fn = {"lstm": "lstm_cell", "gru": "gru_cell", "peephole": "peephole_lstm_cell", "cifg": "cifg_lstm_cell",
          "lstm_forward": "lstm_forward"}[kind]
    return f"{fn}({', '.join(case.args)})"


def check_cell(kind, student_fn, cases, grads=False, name=None):
    """Demand that ``student_fn`` equals the expected cell on every case (outputs, and with ``grads``
    the gradients of a random projection of the outputs with respect to every argument).

    Tolerances: rtol = atol = 1e-10 in float64; rtol = 1e-5, atol = 1e-6 in float32. On failure a
    :class:`GradingError` names the case, the element and, where :func:`diagnose` recognises it, the mistake.
    """
    for n_case, case in enumerate(cases):
        call = f"{name or _call_name(kind, case)} [case {n_case + 1} of {len(cases)}, {str(case.dtype)[6:]}]"
        tol = TOLERANCE[case.dtype]
        a_ref = {k: v.detach().clone().requires_grad_(grads) for k, v in case.args.items()}
        a_stu = {k: v.detach().clone().requires_grad_(grads) for k, v in case.args.items()}
        expected = expected_outputs(kind, a_ref)
        try:
            actual = call_student(student_fn, name=call, inputs=case.args, **a_stu)
        except GradingError as err:
            hint = diagnose(kind, student_fn, case)
            if hint:
                raise _with_hint(err, hint) from None
            raise
        exp_t = expected if isinstance(expected, tuple) else (expected,)
        act_t = actual if isinstance(actual, tuple) else (actual,)
        if isinstance(actual, list):
            act_t = tuple(actual)
        labels = {3: ("out", "h_T", "c_T"), 2: ("h_next", "c_next"), 1: ("h_next",)}[len(exp_t)]
        if len(act_t) != len(exp_t):
            raise GradingError(f"{call}: expected {len(exp_t)} result(s) ({', '.join(labels)}), got "
                               f"{describe(actual)}.\n" + _describe_inputs(case.args) + f"  {HIDDEN_NOTE}")
        hint = None
        for lab, x, e in zip(labels, act_t, exp_t):
            try:
                assert_close(x, e, name=f"{call}, {lab}", inputs=case.args, **tol)
            except GradingError as err:
                hint = hint or diagnose(kind, student_fn, case) or (
                    "compare each gate with the formula above the task; the rows of the weights are stacked "
                    f"{', '.join(GATE_ORDER[kind])} and weights are (out, in): x @ weight_ih.T")
                raise _with_hint(err, hint) from None
        if grads:
            _check_grads(call, case, a_ref, a_stu, exp_t, act_t, tol)


def _with_hint(err, hint):
    text = str(err)
    if "  hint: " in text:  # assert_close's own generic hint gives way to the diagnosis
        text = text[:text.index("  hint: ")] + f"  {HIDDEN_NOTE}"
    return GradingError(text.replace(f"  {HIDDEN_NOTE}", f"  hint: {hint}\n  {HIDDEN_NOTE}"))


def _check_grads(call, case, a_ref, a_stu, exp_t, act_t, tol):
    g = torch.Generator().manual_seed(12345)
    ups = [torch.randn(e.shape, generator=g, dtype=torch.float64).to(e.dtype) for e in exp_t]
    loss_ref = sum((e * u).sum() for e, u in zip(exp_t, ups))
    if not all(torch.is_tensor(x) and x.requires_grad for x in act_t):
        raise GradingError(f"{call}: your outputs are not connected to the autograd graph, so no gradient flows "
                           f"back to the inputs and weights.\n  hint: use torch operations only (no .detach(), "
                           f".data, .numpy() or torch.no_grad()).\n  {HIDDEN_NOTE}")
    loss_stu = sum((x * u).sum() for x, u in zip(act_t, ups))
    names = list(a_ref)
    g_ref = torch.autograd.grad(loss_ref, [a_ref[k] for k in names], allow_unused=True)
    g_stu = torch.autograd.grad(loss_stu, [a_stu[k] for k in names], allow_unused=True)
    for k, gr, gs in zip(names, g_ref, g_stu):
        gr = torch.zeros_like(a_ref[k]) if gr is None else gr
        if gs is None:
            raise GradingError(f"{call}: the gradient with respect to {k} is missing: autograd finds no path "
                               f"from your outputs back to {k}.\n  hint: a .detach(), .data, .numpy() or "
                               f"torch.no_grad() cuts the graph.\n  {HIDDEN_NOTE}")
        assert_close(gs, gr, name=f"gradient of {call} with respect to {k}", inputs=case.args,
                     hint="outputs agree but this gradient does not: look for .detach(), .data or in-place "
                          "changes of a tensor autograd still needs", **tol)
