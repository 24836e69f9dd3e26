"""Exploding and vanishing gradients: products of Jacobians, and the cliff of a one-unit RNN.

Deck 004, "Самая главная проблема RNN": for s_t = tanh(W s_{t-1} + U x_t + b),

    ds_t / ds_k = prod_{i=k+1}^{t} ds_i / ds_{i-1} = prod_{i=k+1}^{t} diag(1 - s_i^2) W,

(the slide writes the transposed product W^T diag(sigma'), the same norms). With a linear unit the
product is W^{t-k}: its norm grows or shrinks like rho(W)^{t-k}, rho the spectral radius.

Pascanu, Mikolov & Bengio (2013), Fig. 6: a single-unit RNN x_t = w sigma(x_{t-1}) + b, x_0 = 0.5,
sigma the logistic sigmoid, error L = (x_50 - 0.7)^2. Crossing a bifurcation of the map makes x_50
jump, so the loss surface has a near-vertical wall ("cliff") where the gradient explodes; an SGD step
taken there throws the parameters far away, unless the step is clipped.
"""
import numpy as np
import torch

from .rnn import clip_by_global_norm


def jacobian_product_norms(W, states):
    """Spectral norms of ds_T/ds_k for k = T, T-1, ..., 0 along a tanh-RNN trajectory.

    Inputs:
        W: recurrent weights, of shape (H, H).
        states: s_1..s_T, of shape (T, H) (only 1 - s_t^2 is used).
    Returns:
        norms of shape (T + 1,): norms[j] = ||ds_T / ds_{T-j}||_2 (norms[0] = 1, the identity).
    """
    T, H = states.shape
    if W.shape != (H, H):
        raise ValueError(f"W: expected shape {(H, H)}, got {W.shape}")
    J = np.eye(H)
    norms = [1.0]
    for t in range(T - 1, -1, -1):
        J = J @ (np.diag(1.0 - states[t] ** 2) @ W)  # one more factor diag(1 - s_t^2) W on the right
        norms.append(float(np.linalg.norm(J, 2)))
    return np.array(norms)


def tanh_rnn_states(W, x_drive, s0=None):
    """States of s_t = tanh(W s_{t-1} + x_drive[t]); W (H, H), x_drive (T, H) -> (T, H)."""
    s = np.zeros(W.shape[0]) if s0 is None else s0
    out = np.empty_like(x_drive, dtype=np.float64)
    for t in range(len(x_drive)):
        s = np.tanh(W @ s + x_drive[t])
        out[t] = s
    return out


# ----------------------------------------------------------------------------------------------
# Pascanu's one-unit cliff


def one_unit_rnn_loss(w, b, steps=50, x0=0.5, target=0.7):
    """L(w, b) = (x_steps - target)^2 for x_t = w * sigmoid(x_{t-1}) + b.

    Inputs:
        w, b: torch tensors of any (broadcastable) shape, e.g. a (G, G) grid, or floats.
    Returns:
        loss, a tensor of the broadcast shape.
    """
    w, b = torch.as_tensor(w, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    x = torch.full(torch.broadcast_shapes(w.shape, b.shape), float(x0), dtype=torch.float64)
    for _ in range(steps):
        x = w * torch.sigmoid(x) + b
    return (x - target) ** 2


def one_unit_rnn_grad(w, b, **kwargs):
    """(loss, dL/dw, dL/db) at one point, by autograd through the unrolled 50 steps (Python floats)."""
    wt = torch.tensor(float(w), dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(float(b), dtype=torch.float64, requires_grad=True)
    loss = one_unit_rnn_loss(wt, bt, **kwargs)
    gw, gb = torch.autograd.grad(loss, (wt, bt))
    return loss.item(), gw.item(), gb.item()


def sgd_trajectory(w0, b0, lr, n_steps, max_norm=None, **kwargs):
    """Plain SGD on the one-unit RNN, optionally clipping the gradient by its norm first.

    Returns:
        array of shape (n_steps + 1, 4): columns w, b, loss, gradient norm before clipping.
    """
    w, b = float(w0), float(b0)
    rows = []
    for _ in range(n_steps + 1):
        loss, gw, gb = one_unit_rnn_grad(w, b, **kwargs)
        norm = float(np.hypot(gw, gb))
        rows.append((w, b, loss, norm))
        g = [np.array(gw), np.array(gb)]
        if max_norm is not None:
            g, _ = clip_by_global_norm(g, max_norm)
        w, b = w - lr * float(g[0]), b - lr * float(g[1])
    return np.array(rows[: n_steps + 1])
