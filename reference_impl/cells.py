"""Recurrent cells: the Elman RNN, LSTM, GRU and the variant space around them, one time step each.

Papers: Hochreiter & Schmidhuber 1997 (LSTM); Gers, Schmidhuber & Cummins 2000 (forget gate);
Gers & Schmidhuber 2000 (peepholes); Greff et al. 2015, "LSTM: A Search Space Odyssey" (the eight
variants); Cho et al. 2014 (GRU); Józefowicz, Zaremba & Sutskever 2015 (MUT1); Wu et al. 2016
(multiplicative integration).

Every cell is a pure function of tensors (what students re-implement) plus a thin ``nn.Module``
holding the parameters. LSTM and GRU use PyTorch's layout (torch/nn/modules/rnn.py) exactly:

* LSTM: ``weight_ih`` of shape (4H, D) and ``weight_hh`` of shape (4H, H), rows stacked in the gate
  order **i, f, g, o**; two biases ``bias_ih`` and ``bias_hh`` of shape (4H,), summed.
* GRU: rows stacked **r, z, n**; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) -- the reset gate
  multiplies the hidden projection *including* b_hn.
* Weights are (out, in): a cell computes ``x @ W.T``. Parameters start from U(-1/sqrt(H), 1/sqrt(H)).

so that ``our_cell.load_state_dict(torch.nn.LSTMCell(D, H).state_dict())`` works directly.

Letters: N batch, D input features, H hidden units. ``*`` below is the elementwise product.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .device import get_device

# ----------------------------------------------------------------------------------------------
# pure functions: one time step


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """Elman RNN step as ``torch.nn.RNNCell``: h' = tanh(W_ih x + b_ih + W_hh h + b_hh).

    Inputs:
        x: input of shape (N, D); h: previous hidden state of shape (N, H).
        weight_ih: (H, D); weight_hh: (H, H); bias_ih, bias_hh: (H,) or None.
        nonlinearity: "tanh" or "relu".
    Returns:
        h_next of shape (N, H).
    """
    a = F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)
    if nonlinearity == "tanh":
        return torch.tanh(a)
    if nonlinearity == "relu":
        return torch.relu(a)
    raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """The four LSTM gate activations for one step, in PyTorch's order.

    Inputs:
        x: (N, D); h: (N, H); weight_ih: (4H, D); weight_hh: (4H, H); bias_ih, bias_hh: (4H,) or None.
    Returns:
        (i, f, g, o), each of shape (N, H): input gate, forget gate, candidate cell state c' (tanh)
        and output gate.
    """
    a = F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)  # (N, 4H)
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    return torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)


def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """The LSTM step of the slide (and of ``torch.nn.LSTMCell``)::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)         o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g                              h' = o * tanh(c')

    Inputs:
        x: (N, D); h, c: previous hidden and cell state, each (N, H).
        weight_ih: (4H, D), weight_hh: (4H, H), rows stacked i, f, g, o; bias_ih, bias_hh: (4H,) or None.
    Returns:
        (h_next, c_next), each of shape (N, H).
    """
    return lstm_update(F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh), c)


def lstm_update(a, c):
    """The elementwise part of :func:`lstm_cell`, from the summed pre-activations.

    Inputs:
        a: W_ih x + b_ih + W_hh h + b_hh of shape (N, 4H), columns i, f, g, o; c: (N, H).
    Returns:
        (h_next, c_next), each of shape (N, H).
    """
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    c_next = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)
    return torch.sigmoid(a_o) * torch.tanh(c_next), c_next


def peephole_lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh, peephole_i, peephole_f, peephole_o):
    """LSTM with peephole connections (Gers & Schmidhuber 2000; Greff et al. 2015, "vanilla" LSTM).

    The input and forget gates look at the *previous* cell state, the output gate at the *new* one::

        i = sigmoid(W_ii x + W_hi h + p_i * c + b_i)     f = sigmoid(W_if x + W_hf h + p_f * c + b_f)
        g = tanh(W_ig x + W_hg h + b_g)                  c' = f * c + i * g
        o = sigmoid(W_io x + W_ho h + p_o * c' + b_o)    h' = o * tanh(c')

    Peephole weights are diagonal (vectors), as in both papers; b_* = b_ih + b_hh (PyTorch's two biases).

    Inputs:
        x: (N, D); h, c: (N, H); weight_ih: (4H, D); weight_hh: (4H, H), rows i, f, g, o;
        bias_ih, bias_hh: (4H,) or None; peephole_i, peephole_f, peephole_o: (H,).
    Returns:
        (h_next, c_next), each of shape (N, H).
    """
    a = F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i = torch.sigmoid(a_i + peephole_i * c)
    f = torch.sigmoid(a_f + peephole_f * c)
    c_next = f * c + i * torch.tanh(a_g)
    o = torch.sigmoid(a_o + peephole_o * c_next)
    return o * torch.tanh(c_next), c_next


def cifg_lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """Coupled input-forget gate LSTM (CIFG; Greff et al. 2015): f = 1 - i, no forget-gate weights.

    Rows are PyTorch's order with the forget gate removed: **i, g, o**. No peepholes::

        i = sigmoid(W_ii x + W_hi h + b_i)   g = tanh(...)   o = sigmoid(...)
        c' = (1 - i) * c + i * g             h' = o * tanh(c')

    Inputs:
        x: (N, D); h, c: (N, H); weight_ih: (3H, D); weight_hh: (3H, H); bias_ih, bias_hh: (3H,) or None.
    Returns:
        (h_next, c_next), each of shape (N, H).
    """
    a = F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)
    a_i, a_g, a_o = a.chunk(3, dim=1)
    i, g, o = torch.sigmoid(a_i), torch.tanh(a_g), torch.sigmoid(a_o)
    c_next = (1 - i) * c + i * g
    return o * torch.tanh(c_next), c_next


def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """GRU step as ``torch.nn.GRUCell`` (rows stacked r, z, n)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)      z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))   h' = (1 - z) * n + z * h

    The reset gate multiplies W_hn h + b_hn *after* the matrix product (Cho et al.'s paper applies it
    before: W_hn (r * h); see :func:`gru_cell_reset_before`). z close to 1 keeps the old state.

    Inputs:
        x: (N, D); h: (N, H); weight_ih: (3H, D); weight_hh: (3H, H); bias_ih, bias_hh: (3H,) or None.
    Returns:
        h_next of shape (N, H).
    """
    return gru_update(F.linear(x, weight_ih, bias_ih), F.linear(h, weight_hh, bias_hh), h)


def gru_update(gi, gh, h):
    """The elementwise part of :func:`gru_cell`.

    Inputs:
        gi: W_ih x + b_ih of shape (N, 3H); gh: W_hh h + b_hh of shape (N, 3H), columns r, z, n;
        h: (N, H).
    Returns:
        h_next of shape (N, H).
    """
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def gru_cell_reset_before(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """The GRU as Cho et al. 2014 write it: the reset gate acts on h *before* the matrix product,
    n = tanh(W_in x + b_in + W_hn (r * h) + b_hn). Same parameters and shapes as :func:`gru_cell`;
    a different function (Keras calls PyTorch's form ``reset_after=True``).

    Inputs / Returns: as :func:`gru_cell`.
    """
    H = h.shape[1]
    gi = F.linear(x, weight_ih, bias_ih)
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    w_hr, w_hz, w_hn = weight_hh.split(H, dim=0)
    b_hr, b_hz, b_hn = (None, None, None) if bias_hh is None else bias_hh.split(H)
    r = torch.sigmoid(i_r + F.linear(h, w_hr, b_hr))
    z = torch.sigmoid(i_z + F.linear(h, w_hz, b_hz))
    n = torch.tanh(i_n + F.linear(r * h, w_hn, b_hn))
    return (1 - z) * n + z * h


def mut1_cell(x, h, weight_ih, weight_hh, bias):
    """MUT1, the first architecture evolved by Józefowicz, Zaremba & Sutskever 2015::

        z = sigmoid(W_xz x + b_z)
        r = sigmoid(W_xr x + W_hr h + b_r)
        h' = tanh(W_hh (r * h) + tanh(x) + b_h) * z + h * (1 - z)

    The update gate sees only the input; ``tanh(x)`` enters unprojected, so D must equal H.

    Inputs:
        x: (N, H); h: (N, H); weight_ih: (2H, D) stacked z, r; weight_hh: (2H, H) stacked r, h;
        bias: (3H,) stacked z, r, h.
    Returns:
        h_next of shape (N, H).
    """
    H = h.shape[1]
    if x.shape[1] != H:
        raise ValueError(f"MUT1 adds tanh(x) to the hidden pre-activation, so D must equal H; "
                         f"got x of shape {tuple(x.shape)} and h of shape {tuple(h.shape)}")
    b_z, b_r, b_h = bias.split(H)
    x_z, x_r = F.linear(x, weight_ih).chunk(2, dim=1)
    w_hr, w_hh = weight_hh.split(H, dim=0)
    z = torch.sigmoid(x_z + b_z)
    r = torch.sigmoid(x_r + F.linear(h, w_hr) + b_r)
    return torch.tanh(F.linear(r * h, w_hh) + torch.tanh(x) + b_h) * z + h * (1 - z)


def mi_lstm_cell(x, h, c, weight_ih, weight_hh, alpha, beta1, beta2, bias):
    """LSTM with multiplicative integration (Wu et al. 2016): every pre-activation W x + U h + b becomes
    alpha * (W x) * (U h) + beta1 * (W x) + beta2 * (U h) + b; the rest is :func:`lstm_cell`.
    With alpha = 0 and beta1 = beta2 = 1 it is the ordinary LSTM.

    Inputs:
        x: (N, D); h, c: (N, H); weight_ih: (4H, D); weight_hh: (4H, H), rows i, f, g, o;
        alpha, beta1, beta2, bias: (4H,).
    Returns:
        (h_next, c_next), each of shape (N, H).
    """
    wx = F.linear(x, weight_ih)
    uh = F.linear(h, weight_hh)
    a = alpha * wx * uh + beta1 * wx + beta2 * uh + bias
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c_next = f * c + i * g
    return o * torch.tanh(c_next), c_next


# ----------------------------------------------------------------------------------------------
# the variant space of Greff et al. 2015


@dataclass(frozen=True)
class LSTMVariant:
    """One point of Greff et al.'s variant space; the defaults are their "vanilla" LSTM (V), which has
    peepholes. Each named variant switches off or changes one thing.

    Fields (Greff et al.'s abbreviation in brackets):
        input_gate: False sets i = 1 [NIG].
        forget_gate: False sets f = 1 [NFG].
        output_gate: False sets o = 1 [NOG].
        input_activation: False makes the candidate linear, g = a_g [NIAF].
        output_activation: False makes h' = o * c' [NOAF].
        peepholes: False drops p_i, p_f, p_o [NP] -- then V is the slide's (and PyTorch's) LSTM.
        coupled: f = 1 - i, no forget-gate weights [CIFG].
        full_gate_recurrence: every gate also sees all gates of the previous step [FGR].
    """

    input_gate: bool = True
    forget_gate: bool = True
    output_gate: bool = True
    input_activation: bool = True
    output_activation: bool = True
    peepholes: bool = True
    coupled: bool = False
    full_gate_recurrence: bool = False

    def __post_init__(self):
        assert not (self.coupled and not self.input_gate), "CIFG couples f to the input gate: keep input_gate"
        assert not (self.coupled and not self.forget_gate), "CIFG replaces the forget gate: keep forget_gate=True"

    @property
    def rows(self) -> tuple:
        """Gates that have weight rows, in PyTorch's order: a subset of ("i", "f", "g", "o")."""
        keep = {"i": self.input_gate, "f": self.forget_gate and not self.coupled, "g": True,
                "o": self.output_gate}
        return tuple(k for k in "ifgo" if keep[k])

    @property
    def sigmoid_gates(self) -> tuple:
        """The rows that are sigmoid gates (get peepholes and, with FGR, gate recurrence)."""
        return tuple(k for k in self.rows if k != "g")


GREFF_VARIANTS = {
    "V": LSTMVariant(),
    "NIG": LSTMVariant(input_gate=False),
    "NFG": LSTMVariant(forget_gate=False),
    "NOG": LSTMVariant(output_gate=False),
    "NIAF": LSTMVariant(input_activation=False),
    "NOAF": LSTMVariant(output_activation=False),
    "NP": LSTMVariant(peepholes=False),
    "CIFG": LSTMVariant(coupled=True),
    "FGR": LSTMVariant(full_gate_recurrence=True),
}


def variant_lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh, variant, peepholes=None,
                      weight_gg=None, prev_gates=None):
    """One step of the LSTM variant ``variant`` (an :class:`LSTMVariant`).

    Let G = len(variant.rows) and S = len(variant.sigmoid_gates). Gate pre-activations are
    W x + R h + b (+ p * c for peepholes; + W_gg [gates of the previous step] with FGR).

    Inputs:
        x: (N, D); h, c: (N, H).
        weight_ih: (G*H, D); weight_hh: (G*H, H); bias_ih, bias_hh: (G*H,) or None; rows in the order
            ``variant.rows``.
        peepholes: (S, H), one diagonal peephole per sigmoid gate, or None without peepholes.
        weight_gg: (S*H, S*H) with full gate recurrence, else None.
        prev_gates: (N, S*H) the previous step's sigmoid gate activations (zeros at t = 0), FGR only.
    Returns:
        (h_next, c_next, gates): h_next, c_next of shape (N, H); gates of shape (N, S*H), the sigmoid
        gate activations in the order ``variant.sigmoid_gates`` (the next step's ``prev_gates``).
    """
    rows, sig = variant.rows, variant.sigmoid_gates
    a = F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)  # (N, G*H)
    if variant.full_gate_recurrence:
        rec = F.linear(prev_gates, weight_gg).chunk(len(sig), dim=1)
    pre = dict(zip(rows, a.chunk(len(rows), dim=1)))
    ones = torch.ones_like(c)
    act = {}

    def gate(k, cell):
        s = pre[k]
        if variant.peepholes:
            s = s + peepholes[sig.index(k)] * cell
        if variant.full_gate_recurrence:
            s = s + rec[sig.index(k)]
        act[k] = torch.sigmoid(s)
        return act[k]

    i = gate("i", c) if variant.input_gate else ones
    if variant.coupled:
        f = 1 - i
    else:
        f = gate("f", c) if variant.forget_gate else ones
    g = torch.tanh(pre["g"]) if variant.input_activation else pre["g"]
    c_next = f * c + i * g
    o = gate("o", c_next) if variant.output_gate else ones
    h_next = o * (torch.tanh(c_next) if variant.output_activation else c_next)
    gates = torch.cat([act[k] for k in sig], dim=1) if sig else c.new_zeros(c.shape[0], 0)
    return h_next, c_next, gates


# ----------------------------------------------------------------------------------------------
# thin modules


def _uniform_(module, hidden_size):
    """PyTorch's initialisation of recurrent layers: every parameter from U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-bound, bound)


def set_forget_bias(module, value: float):
    """Set the forget-gate bias of every LSTM-layout parameter pair in ``module`` to ``value``.

    Works for our cells and layers and for ``torch.nn.LSTM``/``LSTMCell``: in each ``bias_ih*`` of
    shape (4H,) the f rows [H:2H] become ``value`` and in the matching ``bias_hh*`` they become 0, so
    that the effective b_f = b_ih + b_hh equals ``value``. Returns ``module``.
    """
    params = dict(module.named_parameters())
    found = False
    with torch.no_grad():
        for name, b_ih in params.items():
            if not name.split(".")[-1].startswith("bias_ih"):
                continue
            b_hh = params[name.replace("bias_ih", "bias_hh")]
            H = b_ih.shape[0] // 4
            assert b_ih.shape[0] == 4 * H, f"{name} of shape {tuple(b_ih.shape)} is not an LSTM bias (4H,)"
            b_ih[H:2 * H] = value
            b_hh[H:2 * H] = 0.0
            found = True
    if not found:
        raise ValueError(f"{type(module).__name__} has no bias_ih/bias_hh parameters (built with bias=False?)")
    return module


class _Cell(nn.Module):
    """Shared interface: ``init_state(N)`` and ``step(x, state) -> (h, state)`` for the sequence runner."""

    n_states = 1

    def init_state(self, batch_size, device=None, dtype=None):
        p = next(self.parameters())
        z = torch.zeros(batch_size, self.hidden_size, device=device or p.device, dtype=dtype or p.dtype)
        return z if self.n_states == 1 else tuple(z.clone() for _ in range(self.n_states))

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class _TorchLayoutCell(_Cell):
    """Parameters weight_ih (G*H, D), weight_hh (G*H, H), bias_ih and bias_hh (G*H,), as in torch."""

    n_gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        kw = dict(device=get_device(device), dtype=dtype)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        G = self.n_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(G, hidden_size, **kw))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(G, **kw))
            self.bias_hh = nn.Parameter(torch.empty(G, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        _uniform_(self, hidden_size)

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


class RNNCell(_TorchLayoutCell):
    """Elman RNN cell with ``torch.nn.RNNCell``'s parameters; forward(x (N, D), h (N, H)) -> h' (N, H)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x, hx=None):
        h = self.init_state(x.shape[0]) if hx is None else hx
        return rnn_cell(x, h, *self._weights(), nonlinearity=self.nonlinearity)

    def step(self, x, state):
        h = self(x, state)
        return h, h


class LSTMCell(_TorchLayoutCell):
    """LSTM cell with ``torch.nn.LSTMCell``'s parameters and call: forward(x (N, D), (h, c)) -> (h', c')."""

    n_gates, n_states = 4, 2
    cell_fn = staticmethod(lstm_cell)

    def forward(self, x, hx=None):
        h, c = self.init_state(x.shape[0]) if hx is None else hx
        return self.cell_fn(x, h, c, *self._weights())

    def step(self, x, state):
        h, c = self(x, state)
        return h, (h, c)


class GRUCell(_TorchLayoutCell):
    """GRU cell with ``torch.nn.GRUCell``'s parameters and call: forward(x (N, D), h (N, H)) -> h'."""

    n_gates = 3

    def forward(self, x, hx=None):
        h = self.init_state(x.shape[0]) if hx is None else hx
        return gru_cell(x, h, *self._weights())

    def step(self, x, state):
        h = self(x, state)
        return h, h


class CIFGCell(LSTMCell):
    """CIFG LSTM cell (:func:`cifg_lstm_cell`): weight_ih (3H, D), rows i, g, o; state (h, c)."""

    n_gates = 3
    cell_fn = staticmethod(cifg_lstm_cell)


class VariantLSTMCell(_Cell):
    """Greff et al.'s configurable LSTM (:func:`variant_lstm_cell`).

    ``variant`` is an :class:`LSTMVariant` or a name in :data:`GREFF_VARIANTS`. Parameters:
    weight_ih (G*H, D), weight_hh (G*H, H), bias_ih, bias_hh (G*H,), rows ``variant.rows``; with
    peepholes ``peepholes`` (S, H); with FGR ``weight_gg`` (S*H, S*H). With ``variant="NP"`` its
    state dict is that of ``torch.nn.LSTMCell``. State: (h, c) or, with FGR, (h, c, gates).
    """

    def __init__(self, input_size, hidden_size, variant="V", device=None, dtype=None):
        super().__init__()
        self.variant = GREFF_VARIANTS[variant] if isinstance(variant, str) else variant
        self.name = variant if isinstance(variant, str) else None
        self.input_size, self.hidden_size = input_size, hidden_size
        kw = dict(device=get_device(device), dtype=dtype)
        G, S = len(self.variant.rows), len(self.variant.sigmoid_gates)
        self.weight_ih = nn.Parameter(torch.empty(G * hidden_size, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(G * hidden_size, hidden_size, **kw))
        self.bias_ih = nn.Parameter(torch.empty(G * hidden_size, **kw))
        self.bias_hh = nn.Parameter(torch.empty(G * hidden_size, **kw))
        self.peepholes = nn.Parameter(torch.empty(S, hidden_size, **kw)) if self.variant.peepholes else None
        fgr = self.variant.full_gate_recurrence
        self.weight_gg = nn.Parameter(torch.empty(S * hidden_size, S * hidden_size, **kw)) if fgr else None
        self.n_states = 3 if fgr else 2
        _uniform_(self, hidden_size)

    def init_state(self, batch_size, device=None, dtype=None):
        h, c = super().init_state(batch_size, device, dtype)[:2]
        if not self.variant.full_gate_recurrence:
            return h, c
        return h, c, h.new_zeros(batch_size, len(self.variant.sigmoid_gates) * self.hidden_size)

    def forward(self, x, state=None):
        state = self.init_state(x.shape[0]) if state is None else state
        prev = state[2] if self.variant.full_gate_recurrence else None
        h, c, gates = variant_lstm_cell(x, state[0], state[1], self.weight_ih, self.weight_hh, self.bias_ih,
                                        self.bias_hh, self.variant, self.peepholes, self.weight_gg, prev)
        return (h, c, gates) if self.variant.full_gate_recurrence else (h, c)

    def step(self, x, state):
        state = self(x, state)
        return state[0], state

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, variant={self.name or self.variant}"


class MUT1Cell(_Cell):
    """MUT1 (:func:`mut1_cell`); input_size must equal hidden_size. Parameters weight_ih (2H, H),
    weight_hh (2H, H), bias (3H,)."""

    def __init__(self, input_size, hidden_size, device=None, dtype=None):
        super().__init__()
        if input_size != hidden_size:
            raise ValueError(f"MUT1 needs input_size == hidden_size (it adds tanh(x)), got {input_size} "
                             f"and {hidden_size}; project the input first")
        kw = dict(device=get_device(device), dtype=dtype)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(2 * hidden_size, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(2 * hidden_size, hidden_size, **kw))
        self.bias = nn.Parameter(torch.empty(3 * hidden_size, **kw))
        _uniform_(self, hidden_size)

    def forward(self, x, hx=None):
        h = self.init_state(x.shape[0]) if hx is None else hx
        return mut1_cell(x, h, self.weight_ih, self.weight_hh, self.bias)

    def step(self, x, state):
        h = self(x, state)
        return h, h


class MILSTMCell(_Cell):
    """LSTM with multiplicative integration (:func:`mi_lstm_cell`). weight_ih (4H, D), weight_hh (4H, H)
    from U(-1/sqrt(H), 1/sqrt(H)); alpha, beta1, beta2 start at 1 and bias at 0 (our choice)."""

    n_states = 2

    def __init__(self, input_size, hidden_size, device=None, dtype=None):
        super().__init__()
        kw = dict(device=get_device(device), dtype=dtype)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size, **kw))
        _uniform_(self, hidden_size)
        self.alpha = nn.Parameter(torch.ones(4 * hidden_size, **kw))
        self.beta1 = nn.Parameter(torch.ones(4 * hidden_size, **kw))
        self.beta2 = nn.Parameter(torch.ones(4 * hidden_size, **kw))
        self.bias = nn.Parameter(torch.zeros(4 * hidden_size, **kw))

    def forward(self, x, hx=None):
        h, c = self.init_state(x.shape[0]) if hx is None else hx
        return mi_lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.alpha, self.beta1, self.beta2,
                            self.bias)

    def step(self, x, state):
        h, c = self(x, state)
        return h, (h, c)
