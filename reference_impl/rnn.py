"""The simple ("Elman") RNN: NumPy forward and hand-written backpropagation through time (BPTT),
bidirectional combination, gradient clipping, and a torch module equal to ``torch.nn.RNN``.

Notation of the slides (deck 000, "ПРОСТАЯ RNN"; Goodfellow, Bengio & Courville, ch. 10)::

    a_t = b + W s_{t-1} + U x_t          (recurrent pre-activation)
    s_t = tanh(a_t)                       (hidden state)
    o_t = c + V s_t                       (output; y_t = softmax(o_t) for classification)

Dimension letters, declared once: N batch, T time, D input features, H hidden units, O outputs.
Rows are examples, so the code computes ``x @ U.T + s_prev @ W.T + b``.

How this maps onto ``torch.nn.RNN`` (one layer, ``nonlinearity="tanh"``)::

    slide   torch.nn.RNN         shape
    U       weight_ih_l0         (H, D)
    W       weight_hh_l0         (H, H)
    b       bias_ih_l0 + bias_hh_l0  (H,)   torch keeps two biases whose sum is the slide's b
    s_t     output[:, t]         (N, H) with batch_first=True
    s_0     h_0                  (N, H)
    V, c    (not part of nn.RNN; a separate nn.Linear(H, O) with weight V (O, H) and bias c (O,))

The bidirectional RNN of the slide ("ДВУНАПРАВЛЕННАЯ RNN") runs a second RNN backwards in time,
s'_t = tanh(b' + W' s'_{t+1} + U' x_t), and reads out o_t = c + V s_t + V' s'_t. Stacking
[s_t; s'_t] (what ``torch.nn.RNN(bidirectional=True)`` returns) and applying one linear layer with
weight [V V'] is exactly that formula.

Clipping (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent neural networks"):
by global norm, g <- g * min(1, max_norm / ||g||) with ||g|| the norm of *all* gradients together
(``torch.nn.utils.clip_grad_norm_``), or by value, each entry clamped to [-v, v]
(``torch.nn.utils.clip_grad_value_``). Note: Keras's ``clipnorm=`` (on the slide) clips each tensor
by its own norm; ``global_clipnorm=`` is Pascanu's rule.
"""
import math

import numpy as np
import torch
from torch import nn

from .device import get_device
from .numerics import cross_entropy, cross_entropy_backward


# ----------------------------------------------------------------------------------------------
# shape checks with messages naming expected vs actual


def _expect_shape(name, array, shape):
    """Raise ValueError unless ``array.shape == shape`` (``None`` in ``shape`` matches any size)."""
    actual = tuple(np.shape(array))
    ok = len(actual) == len(shape) and all(e is None or e == a for e, a in zip(shape, actual))
    if not ok:
        shown = "(" + ", ".join("?" if e is None else str(e) for e in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{name}: expected shape {shown}, got {actual}")


def _check_step(x, s_prev, U, W, b):
    H, D = np.shape(U)
    N = np.shape(x)[0]
    _expect_shape("x", x, (None, D))
    _expect_shape("s_prev", s_prev, (N, H))
    _expect_shape("W", W, (H, H))
    _expect_shape("b", b, (H,))


# ----------------------------------------------------------------------------------------------
# NumPy: one step


def rnn_step_forward(x, s_prev, U, W, b):
    """One step of the simple RNN: a = b + W s_prev + U x, s = tanh(a).

    Inputs:
        x: input at this step, of shape (N, D).
        s_prev: previous hidden state s_{t-1}, of shape (N, H).
        U: input-to-hidden weights, of shape (H, D)  (torch's weight_ih).
        W: hidden-to-hidden weights, of shape (H, H)  (torch's weight_hh).
        b: bias, of shape (H,)  (torch's bias_ih + bias_hh).
    Returns:
        s: next hidden state s_t, of shape (N, H).
        cache: what :func:`rnn_step_backward` needs.
    """
    _check_step(x, s_prev, U, W, b)
    a = b + s_prev @ W.T + x @ U.T  # (N, H)
    s = np.tanh(a)
    return s, (x, s_prev, U, W, s)


def rnn_step_backward(ds, cache):
    """Backward pass of :func:`rnn_step_forward`.

    With da = ds * (1 - s^2) (tanh' = 1 - tanh^2):
    dx = da U, ds_prev = da W, dU = da^T x, dW = da^T s_prev, db = sum_n da.

    Inputs:
        ds: gradient of the loss with respect to s_t, of shape (N, H).
        cache: from :func:`rnn_step_forward`.
    Returns:
        dx (N, D), ds_prev (N, H), dU (H, D), dW (H, H), db (H,).
    """
    x, s_prev, U, W, s = cache
    _expect_shape("ds", ds, s.shape)
    da = ds * (1.0 - s * s)  # (N, H)
    dx = da @ U
    ds_prev = da @ W
    dU = da.T @ x
    dW = da.T @ s_prev
    db = da.sum(axis=0)
    return dx, ds_prev, dU, dW, db


# ----------------------------------------------------------------------------------------------
# NumPy: a whole sequence and BPTT


def rnn_forward(x, s0, U, W, b):
    """Run the simple RNN over a whole sequence.

    Inputs:
        x: inputs, of shape (N, T, D).
        s0: initial hidden state, of shape (N, H).
        U (H, D), W (H, H), b (H,): as in :func:`rnn_step_forward`.
    Returns:
        s: hidden states s_1..s_T, of shape (N, T, H).
        cache: what :func:`rnn_backward` needs.
    """
    _expect_shape("x", x, (None, None, np.shape(U)[1]))
    N, T, _ = x.shape
    H = np.shape(W)[0]
    s = np.zeros((N, T, H), dtype=np.result_type(x, s0, U, W, b))
    caches = []
    s_t = s0
    for t in range(T):
        s_t, cache = rnn_step_forward(x[:, t], s_t, U, W, b)
        s[:, t] = s_t
        caches.append(cache)
    return s, caches


def rnn_backward(ds, cache):
    """Backpropagation through time for :func:`rnn_forward`.

    ``ds[:, t]`` is the gradient reaching s_t from the loss *directly* (through o_t); the gradient
    through the recurrence is added here: going backwards, the total gradient at s_t is
    ds[:, t] + (gradient flowing back from s_{t+1}). Parameter gradients are summed over time
    because U, W, b are shared by every step.

    Inputs:
        ds: upstream gradients, of shape (N, T, H).
        cache: from :func:`rnn_forward`.
    Returns:
        dx (N, T, D), ds0 (N, H), dU (H, D), dW (H, H), db (H,).
    """
    caches = cache
    x0, s_prev0, U, W, _ = caches[0]
    N, H, D, T = x0.shape[0], W.shape[0], U.shape[1], len(caches)
    _expect_shape("ds", ds, (N, T, H))
    dx = np.zeros((N, T, D), dtype=ds.dtype)
    dU, dW, db = np.zeros_like(U), np.zeros_like(W), np.zeros(H, dtype=ds.dtype)
    ds_next = np.zeros((N, H), dtype=ds.dtype)
    for t in reversed(range(T)):
        dx[:, t], ds_next, dU_t, dW_t, db_t = rnn_step_backward(ds[:, t] + ds_next, caches[t])
        dU += dU_t
        dW += dW_t
        db += db_t
    return dx, ds_next, dU, dW, db


def output_forward(s, V, c):
    """o_t = c + V s_t at every step.

    Inputs:
        s: hidden states, of shape (N, T, H).
        V: output weights, of shape (O, H); c: output bias, of shape (O,).
    Returns:
        o: outputs, of shape (N, T, O).
    """
    _expect_shape("V", V, (None, s.shape[-1]))
    return s @ V.T + c


def output_backward(do, s, V):
    """Backward pass of :func:`output_forward`.

    Inputs:
        do: gradient with respect to o, of shape (N, T, O); s (N, T, H); V (O, H).
    Returns:
        ds (N, T, H), dV (O, H), dc (O,).
    """
    ds = do @ V
    dV = np.einsum("nto,nth->oh", do, s)
    dc = do.sum(axis=(0, 1))
    return ds, dV, dc


def sequence_loss_and_grads(x, targets, s0, params):
    """Cross-entropy of a many-to-many RNN and all its gradients by hand-written BPTT.

    The loss is the mean over all N*T positions of -log softmax(o_t)[y_t].

    Inputs:
        x: inputs, of shape (N, T, D).
        targets: integer classes, of shape (N, T).
        s0: initial state, of shape (N, H).
        params: dict with U (H, D), W (H, H), b (H,), V (O, H), c (O,).
    Returns:
        loss: a Python float.
        grads: dict with the same keys as params, plus "s0" and "x".
    """
    U, W, b, V, c = (params[k] for k in ("U", "W", "b", "V", "c"))
    s, cache = rnn_forward(x, s0, U, W, b)
    o = output_forward(s, V, c)
    N, T, O = o.shape
    _expect_shape("targets", targets, (N, T))
    loss = cross_entropy(o.reshape(N * T, O), targets.reshape(N * T))
    do = cross_entropy_backward(o.reshape(N * T, O), targets.reshape(N * T)).reshape(N, T, O)
    ds, dV, dc = output_backward(do, s, V)
    dx, ds0, dU, dW, db = rnn_backward(ds, cache)
    return loss, {"U": dU, "W": dW, "b": db, "V": dV, "c": dc, "s0": ds0, "x": dx}


# ----------------------------------------------------------------------------------------------
# NumPy: bidirectional combination


def birnn_forward(x, s0_f, s0_b, U_f, W_f, b_f, U_b, W_b, b_b):
    """Bidirectional RNN: a forward RNN and a second RNN run from t = T down to 1.

    s_t  = tanh(b_f + W_f s_{t-1}  + U_f x_t)    (forward, starts from s0_f)
    s'_t = tanh(b_b + W_b s'_{t+1} + U_b x_t)    (backward, starts from s0_b at t = T)

    Inputs:
        x: (N, T, D); s0_f, s0_b: (N, H); U_* (H, D), W_* (H, H), b_* (H,).
    Returns:
        out: [s_t ; s'_t] at every step, of shape (N, T, 2H) (torch.nn.RNN's bidirectional layout).
        cache: what :func:`birnn_backward` needs.
    """
    s_f, cache_f = rnn_forward(x, s0_f, U_f, W_f, b_f)
    s_b_rev, cache_b = rnn_forward(x[:, ::-1], s0_b, U_b, W_b, b_b)
    out = np.concatenate([s_f, s_b_rev[:, ::-1]], axis=2)
    return out, (cache_f, cache_b, s_f.shape[2])


def birnn_backward(dout, cache):
    """Backward pass of :func:`birnn_forward`.

    Inputs:
        dout: gradient with respect to out, of shape (N, T, 2H).
        cache: from :func:`birnn_forward`.
    Returns:
        dx (N, T, D), ds0_f (N, H), ds0_b (N, H), dU_f, dW_f, db_f, dU_b, dW_b, db_b.
    """
    cache_f, cache_b, H = cache
    _expect_shape("dout", dout, (None, None, 2 * H))
    dx_f, ds0_f, dU_f, dW_f, db_f = rnn_backward(dout[:, :, :H], cache_f)
    dx_b_rev, ds0_b, dU_b, dW_b, db_b = rnn_backward(np.ascontiguousarray(dout[:, ::-1, H:]), cache_b)
    dx = dx_f + dx_b_rev[:, ::-1]
    return dx, ds0_f, ds0_b, dU_f, dW_f, db_f, dU_b, dW_b, db_b


# ----------------------------------------------------------------------------------------------
# clipping


def clip_by_global_norm(grads, max_norm, eps=1e-6):
    """Scale all gradients together so that their joint L2 norm is at most ``max_norm``.

    g_i <- g_i * min(1, max_norm / (||g|| + eps)),  ||g|| = sqrt(sum_i ||g_i||^2),
    as ``torch.nn.utils.clip_grad_norm_`` (same ``eps``). The direction of the whole update is kept.

    Inputs:
        grads: list of arrays of any shapes.
        max_norm: positive float.
    Returns:
        clipped: list of new arrays, same shapes as grads.
        total_norm: the norm before clipping (a Python float).
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    total = math.sqrt(sum(float(np.sum(np.square(g))) for g in grads))
    scale = min(1.0, max_norm / (total + eps))
    return [g * scale for g in grads], total


def clip_by_value(grads, clip_value):
    """Clamp every gradient entry to [-clip_value, clip_value] (``torch.nn.utils.clip_grad_value_``).

    Inputs:
        grads: list of arrays of any shapes; clip_value: positive float.
    Returns:
        list of new arrays, same shapes. Unlike clipping by norm, this changes the direction.
    """
    if clip_value <= 0:
        raise ValueError(f"clip_value must be positive, got {clip_value}")
    return [np.clip(g, -clip_value, clip_value) for g in grads]


# ----------------------------------------------------------------------------------------------
# torch: a module equal to torch.nn.RNN


def rnn_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", reverse=False):
    """One direction of one RNN layer in torch (differentiable): h_t = f(x_t w_ih^T + b_ih + h_{t-1} w_hh^T + b_hh).

    Inputs:
        x: (N, T, D); h0: (N, H); w_ih: (H, D); w_hh: (H, H); b_ih, b_hh: (H,) or None.
        reverse: run from t = T down to 1 (the backward direction of a bidirectional layer).
    Returns:
        out: hidden states in the original time order, of shape (N, T, H).
    """
    f = {"tanh": torch.tanh, "relu": torch.relu}[nonlinearity]
    xw = x @ w_ih.T  # (N, T, H): the input projection of all steps at once
    if b_ih is not None:
        xw = xw + b_ih
    if b_hh is not None:
        xw = xw + b_hh
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    h, outs = h0, [None] * x.shape[1]
    for t in steps:
        h = f(xw[:, t] + h @ w_hh.T)
        outs[t] = h
    return torch.stack(outs, dim=1)


class RNN(nn.Module):
    """A multi-layer (bidirectional) Elman RNN with the parameters and conventions of ``torch.nn.RNN``.

    Parameter names and shapes equal torch's, so ``ours.load_state_dict(torch_rnn.state_dict())``
    works: weight_ih_l{k}[_reverse] (H, D_k), weight_hh_l{k}[_reverse] (H, H), bias_ih_l{k}[_reverse],
    bias_hh_l{k}[_reverse] (H,), with D_0 = D and D_k = H * num_directions above. Initialised from
    U(-1/sqrt(H), 1/sqrt(H)) like torch. No inter-layer dropout.

    forward(x, h0=None):
        x: (T, N, D), or (N, T, D) with batch_first=True.
        h0: (num_layers * num_directions, N, H) or None (zeros).
        Returns output (T, N, num_directions * H) [or (N, T, ...)] and h_n (num_layers * num_directions, N, H).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, bidirectional=False, device=None, dtype=None):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.nonlinearity, self.bias, self.batch_first = nonlinearity, bias, batch_first
        self.num_directions = 2 if bidirectional else 1
        factory = {"device": get_device(device), "dtype": dtype}
        for layer in range(num_layers):
            d_in = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes(layer):
                self.register_parameter(f"weight_ih{suffix}", nn.Parameter(torch.empty(hidden_size, d_in, **factory)))
                self.register_parameter(f"weight_hh{suffix}",
                                        nn.Parameter(torch.empty(hidden_size, hidden_size, **factory)))
                if bias:
                    self.register_parameter(f"bias_ih{suffix}", nn.Parameter(torch.empty(hidden_size, **factory)))
                    self.register_parameter(f"bias_hh{suffix}", nn.Parameter(torch.empty(hidden_size, **factory)))
        self.reset_parameters()

    def _suffixes(self, layer):
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.num_directions == 2 else [])

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x, h0=None):
        if x.dim() != 3:
            raise ValueError(f"x: expected a 3-D input (T, N, D) or (N, T, D) with batch_first, got shape "
                             f"{tuple(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)  # (N, T, D)
        N = x.shape[0]
        L = self.num_layers * self.num_directions
        if x.shape[2] != self.input_size:
            raise ValueError(f"x: expected {self.input_size} features in the last dimension, got shape "
                             f"{tuple(x.shape)}")
        if h0 is None:
            h0 = x.new_zeros(L, N, self.hidden_size)
        elif tuple(h0.shape) != (L, N, self.hidden_size):
            raise ValueError(f"h0: expected shape {(L, N, self.hidden_size)}, got {tuple(h0.shape)}")
        layer_in, h_n = x, []
        for layer in range(self.num_layers):
            outs = []
            for direction, suffix in enumerate(self._suffixes(layer)):
                out = rnn_layer(layer_in, h0[layer * self.num_directions + direction],
                                getattr(self, f"weight_ih{suffix}"), getattr(self, f"weight_hh{suffix}"),
                                getattr(self, f"bias_ih{suffix}", None), getattr(self, f"bias_hh{suffix}", None),
                                self.nonlinearity, reverse=direction == 1)
                outs.append(out)
                h_n.append(out[:, 0] if direction == 1 else out[:, -1])
            layer_in = torch.cat(outs, dim=2)
        output = layer_in if self.batch_first else layer_in.transpose(0, 1)
        return output, torch.stack(h_n, dim=0)
