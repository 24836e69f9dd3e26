"""Sequence layers: LSTM and GRU over whole sequences, drop-in equal to ``torch.nn.LSTM``/``torch.nn.GRU``,
and a runner that unrolls any cell of :mod:`reference_impl.cells` over time.

:class:`LSTM` and :class:`GRU` take torch's constructor arguments (num_layers, bias, batch_first,
dropout, bidirectional), name their parameters as torch does (``weight_ih_l0``, ``bias_hh_l1_reverse``,
...) and return what torch returns, so ``ours.load_state_dict(torch_lstm.state_dict())`` works and
the outputs agree. One extra option, ``residual=True``, adds each upper layer's input to its output
(the residual stacks of Wu et al. 2016, GNMT).

How one layer runs (:func:`lstm_layer`): the input projection W_ih x + b_ih of all T steps is one
matrix product; the loop then adds W_hh h + b_hh step by step. The loop walks ``xi.unbind(0)``
rather than indexing ``xi[t]``: indexing makes autograd accumulate T full-size zero-padded gradient
slices in backward, which made forward+backward about 5x slower when we measured it.

Letters: T time, N batch, D input features, H hidden units, L layers.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cells import (CIFGCell, GRUCell, LSTMCell, MILSTMCell, MUT1Cell, RNNCell, VariantLSTMCell, _uniform_,
                    gru_update, lstm_update, set_forget_bias)
from .device import get_device

# ----------------------------------------------------------------------------------------------
# one layer, one direction (pure functions; TorchScript-compatible)


def lstm_layer(x: Tensor, h0: Tensor, c0: Tensor, weight_ih: Tensor, weight_hh: Tensor,
               bias_ih: Optional[Tensor] = None, bias_hh: Optional[Tensor] = None,
               reverse: bool = False) -> Tuple[Tensor, Tensor, Tensor]:
    """Run :func:`reference_impl.cells.lstm_cell` over a sequence.

    Inputs:
        x: (T, N, D); h0, c0: (N, H); weight_ih: (4H, D); weight_hh: (4H, H); bias_ih, bias_hh: (4H,) or None.
        reverse: walk from t = T-1 down to 0 (the backward direction of a bidirectional layer); the
            output stays in the input's time order.
    Returns:
        (out, h_T, c_T): out of shape (T, N, H) holds every step's h; h_T, c_T of shape (N, H).
    """
    xs = F.linear(x, weight_ih, bias_ih).unbind(0)  # T tensors of shape (N, 4H)
    if reverse:
        xs = xs[::-1]
    h, c = h0, c0
    out: List[Tensor] = []
    for xi in xs:
        h, c = lstm_update(xi + F.linear(h, weight_hh, bias_hh), c)
        out.append(h)
    if reverse:
        out = out[::-1]
    return torch.stack(out), h, c


def gru_layer(x: Tensor, h0: Tensor, weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Optional[Tensor] = None, bias_hh: Optional[Tensor] = None,
              reverse: bool = False) -> Tuple[Tensor, Tensor]:
    """Run :func:`reference_impl.cells.gru_cell` over a sequence.

    Inputs:
        x: (T, N, D); h0: (N, H); weight_ih: (3H, D); weight_hh: (3H, H); bias_ih, bias_hh: (3H,) or None.
        reverse: as in :func:`lstm_layer`.
    Returns:
        (out, h_T): out of shape (T, N, H); h_T of shape (N, H).
    """
    xs = F.linear(x, weight_ih, bias_ih).unbind(0)  # T tensors of shape (N, 3H)
    if reverse:
        xs = xs[::-1]
    h = h0
    out: List[Tensor] = []
    for xi in xs:
        h = gru_update(xi, F.linear(h, weight_hh, bias_hh), h)
        out.append(h)
    if reverse:
        out = out[::-1]
    return torch.stack(out), h


_SCRIPTED = {}


def scripted(fn):
    """``torch.jit.script(fn)`` for :func:`lstm_layer` or :func:`gru_layer`, compiled once and cached.

    TorchScript runs the same loop without the Python interpreter and fuses nothing we did not write;
    it is deprecated in recent torch in favour of ``torch.compile``, whose compilation of a T-step
    loop takes minutes on a small CPU (see benchmarks/results/03_lstm_gru.md).
    """
    if fn not in _SCRIPTED:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            _SCRIPTED[fn] = torch.jit.script(fn)
    return _SCRIPTED[fn]


# ----------------------------------------------------------------------------------------------
# stacked, bidirectional, batch_first: the torch.nn.LSTM / GRU contract


class _StackedRNN(nn.Module):
    """Shared by :class:`LSTM` and :class:`GRU`: parameters, shapes, layers and directions as in torch."""

    gates = 1
    n_states = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, residual=False, device=None, dtype=None, scripted=False):
        super().__init__()
        if not 0 <= dropout <= 1:
            raise ValueError(f"dropout must lie in [0, 1], got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.residual, self.use_script = bidirectional, residual, scripted
        self.num_directions = 2 if bidirectional else 1
        kw = dict(device=get_device(device), dtype=dtype)
        G = self.gates * hidden_size
        for layer in range(num_layers):
            d_in = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in ("", "_reverse")[: self.num_directions]:
                self.register_parameter(f"weight_ih_l{layer}{suffix}", nn.Parameter(torch.empty(G, d_in, **kw)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}",
                                        nn.Parameter(torch.empty(G, hidden_size, **kw)))
                if bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}", nn.Parameter(torch.empty(G, **kw)))
                    self.register_parameter(f"bias_hh_l{layer}{suffix}", nn.Parameter(torch.empty(G, **kw)))
        _uniform_(self, hidden_size)

    def weights(self, layer, reverse=False):
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer and direction (biases None without bias)."""
        s = f"l{layer}{'_reverse' if reverse else ''}"
        return (getattr(self, f"weight_ih_{s}"), getattr(self, f"weight_hh_{s}"),
                getattr(self, f"bias_ih_{s}", None), getattr(self, f"bias_hh_{s}", None))

    def _run(self, x, state, layer, reverse):
        raise NotImplementedError

    def forward(self, input, hx=None):
        """Inputs:
            input: (T, N, D), or (N, T, D) with batch_first, or unbatched (T, D).
            hx: initial state, zeros if None: h0 of shape (L * num_directions, N, H) for the GRU, the
                pair (h0, c0) for the LSTM ((L * num_directions, H) each for unbatched input).
        Returns:
            (output, h_n) for the GRU, (output, (h_n, c_n)) for the LSTM: output of shape
            (T, N, num_directions * H) ((N, T, ...) with batch_first) holds the last layer's h at
            every step; h_n and c_n the final states of every layer and direction, shaped like hx.
        """
        unbatched = input.dim() == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        T, N, _ = x.shape
        states = self._initial(hx, N, x, unbatched)  # tuple of n_states tensors (L*dirs, N, H)
        finals = [[] for _ in range(self.n_states)]
        for layer in range(self.num_layers):
            outs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                out, *last = self._run(x, tuple(s[k] for s in states), layer, direction == 1)
                outs.append(out)
                for f, s in zip(finals, last):
                    f.append(s)
            y = outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)
            if self.residual and layer > 0:
                y = y + x
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                y = F.dropout(y, self.dropout, training=True)
            x = y
        output = x.squeeze(1) if unbatched else (x.transpose(0, 1) if self.batch_first else x)
        h_n = [torch.stack(f) for f in finals]
        if unbatched:
            h_n = [s.squeeze(1) for s in h_n]
        return output, (h_n[0] if self.n_states == 1 else tuple(h_n))

    def _initial(self, hx, N, x, unbatched):
        shape = (self.num_layers * self.num_directions, N, self.hidden_size)
        if hx is None:
            z = x.new_zeros(shape)
            return tuple(z for _ in range(self.n_states))
        hx = (hx,) if self.n_states == 1 else tuple(hx)
        if unbatched:
            hx = tuple(h.unsqueeze(1) for h in hx)
        for h in hx:
            if tuple(h.shape) != shape:
                raise ValueError(f"initial state of shape {tuple(h.shape)}, expected {shape} "
                                 "(num_layers * num_directions, N, hidden_size)")
        return hx

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        for k in ("batch_first", "bidirectional", "residual"):
            if getattr(self, k):
                s += f", {k}=True"
        return s + (f", dropout={self.dropout}" if self.dropout else "")


class LSTM(_StackedRNN):
    """``torch.nn.LSTM`` written with :func:`lstm_layer` (same arguments, parameters and outputs).

    ``scripted=True`` runs the TorchScript-compiled layer (:func:`scripted`); the maths is the same.
    """

    gates, n_states = 4, 2

    def _run(self, x, state, layer, reverse):
        fn = scripted(lstm_layer) if self.use_script else lstm_layer
        return fn(x, state[0], state[1], *self.weights(layer, reverse), reverse=reverse)


class GRU(_StackedRNN):
    """``torch.nn.GRU`` written with :func:`gru_layer` (same arguments, parameters and outputs)."""

    gates, n_states = 3, 1

    def _run(self, x, state, layer, reverse):
        fn = scripted(gru_layer) if self.use_script else gru_layer
        return fn(x, state[0], *self.weights(layer, reverse), reverse=reverse)


# ----------------------------------------------------------------------------------------------
# any cell over time


def unroll(cell, x, state=None, keep_states=False):
    """Run ``cell.step`` (any cell of :mod:`reference_impl.cells`) over a batch-first sequence.

    Inputs:
        cell: a module with ``init_state(N)`` and ``step(x_t, state) -> (h_t, state)``.
        x: (N, T, D); state: the cell's initial state (zeros if None).
        keep_states: also return the list of states after every step (for plots and gradient probes).
    Returns:
        (out, state) or, with keep_states, (out, state, states): out of shape (N, T, H).
    """
    state = cell.init_state(x.shape[0]) if state is None else state
    out, states = [], []
    for x_t in x.unbind(1):
        h, state = cell.step(x_t, state)
        out.append(h)
        if keep_states:
            states.append(state)
    out = torch.stack(out, dim=1)
    return (out, state, states) if keep_states else (out, state)


class Recurrent(nn.Module):
    """A batch-first sequence layer around one cell: forward(x (N, T, D), state=None) -> (out (N, T, H), state)."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell
        self.hidden_size = cell.hidden_size

    def forward(self, x, state=None):
        return unroll(self.cell, x, state)


CELL_KINDS = ("rnn", "lstm", "gru", "cifg", "mut1", "mi_lstm") + tuple(
    f"variant:{k}" for k in ("V", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR"))


def make_layer(kind, input_size, hidden_size, forget_bias=None, device=None):
    """A batch-first recurrent layer of one kind (see :data:`CELL_KINDS`), ``(out, state) = layer(x)``.

    "lstm" and "gru" are the fast :class:`LSTM`/:class:`GRU` layers; the others unroll their cell.
    ``forget_bias`` (LSTM kinds with a forget gate) sets b_f, see :func:`reference_impl.cells.set_forget_bias`.
    """
    dev = get_device(device)
    if kind == "lstm":
        layer = LSTM(input_size, hidden_size, batch_first=True, device=dev)
    elif kind == "gru":
        layer = GRU(input_size, hidden_size, batch_first=True, device=dev)
    elif kind == "rnn":
        layer = Recurrent(RNNCell(input_size, hidden_size, device=dev))
    elif kind == "cifg":
        layer = Recurrent(CIFGCell(input_size, hidden_size, device=dev))
    elif kind == "mi_lstm":
        layer = Recurrent(MILSTMCell(input_size, hidden_size, device=dev))
    elif kind == "mut1":
        layer = _Projected(input_size, Recurrent(MUT1Cell(hidden_size, hidden_size, device=dev)), dev)
    elif kind.startswith("variant:"):
        layer = Recurrent(VariantLSTMCell(input_size, hidden_size, kind.split(":", 1)[1], device=dev))
    else:
        raise ValueError(f"unknown kind {kind!r}; choose from {CELL_KINDS}")
    if forget_bias is not None:
        if kind.startswith("variant:"):
            cell = layer.cell
            rows = cell.variant.rows
            if "f" not in rows:
                raise ValueError(f"{kind} has no forget-gate weights to set a bias on")
            H = hidden_size
            k = rows.index("f")
            with torch.no_grad():
                cell.bias_ih[k * H:(k + 1) * H] = forget_bias
                cell.bias_hh[k * H:(k + 1) * H] = 0.0
        elif kind == "lstm":
            set_forget_bias(layer, forget_bias)
        else:
            raise ValueError(f"forget_bias applies to LSTM kinds with a forget gate, not {kind!r}")
    return layer


class _Projected(nn.Module):
    """A linear input projection (D -> H) in front of a layer whose cell needs D == H (MUT1)."""

    def __init__(self, input_size, layer, device):
        super().__init__()
        self.proj = nn.Linear(input_size, layer.hidden_size, device=device)
        self.layer = layer
        self.hidden_size = layer.hidden_size

    def forward(self, x, state=None):
        return self.layer(self.proj(x), state)


class ManyToOne(nn.Module):
    """A sequence layer read out at the last step: forward(x (N, T, D)) -> (N, out_features).

    ``layer`` is batch-first and returns (out (N, T, H), state), e.g. from :func:`make_layer`.
    """

    def __init__(self, layer, out_features, device=None):
        super().__init__()
        self.layer = layer
        self.head = nn.Linear(layer.hidden_size, out_features, device=get_device(device))

    def forward(self, x):
        out, _ = self.layer(x)
        return self.head(out[:, -1])


# ----------------------------------------------------------------------------------------------
# probes


def gradient_norms_through_time(cell, x, state=None):
    """How much the last step's output depends on earlier states: ||dL/dh_t|| (and ||dL/dc_t|| for cells
    with a cell state) for L = sum of the final hidden state, averaged over the batch.

    Inputs:
        cell: a cell of :mod:`reference_impl.cells`; x: (N, T, D).
    Returns:
        dict with "h" (and "c") -> tensor of shape (T,), entry t for the state after step t.
    """
    _, _, states = unroll(cell, x, state, keep_states=True)
    tensors = {"h": [s[0] if isinstance(s, tuple) else s for s in states]}
    if isinstance(states[0], tuple):
        tensors["c"] = [s[1] for s in states]
    loss = tensors["h"][-1].sum()
    keys = list(tensors)
    flat = [t for k in keys for t in tensors[k]]
    grads = torch.autograd.grad(loss, flat, allow_unused=True)
    T = len(states)
    out = {}
    for j, k in enumerate(keys):
        g = grads[j * T:(j + 1) * T]
        out[k] = torch.stack([torch.zeros(()) if gi is None else gi.detach().norm(dim=1).mean().cpu() for gi in g])
    return out
