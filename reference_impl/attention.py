"""Attention for encoder-decoder models: Bahdanau's additive score, Luong's dot / general / concat scores.

Notation: B batch, S source positions, Q query (decoder state) size, K key (encoder output) size,
A attention hidden size. A query ``q: (B, Q)`` scores every encoder output ``h_j: (B, S, K)``:

    additive (Bahdanau et al. 2014)   e_j = v^T tanh(W_q q + W_k h_j)
    dot      (Luong et al. 2015)      e_j = q^T h_j                        (needs Q == K)
    general  (Luong et al. 2015)      e_j = q^T W h_j
    concat   (Luong et al. 2015)      e_j = v^T tanh(W [q; h_j])

then ``alpha = softmax_j(e_j)`` over the *real* positions only (``mask: (B, S)`` True where a token is,
False on padding) and the context is ``c = sum_j alpha_j h_j``. Padded positions get weight exactly 0;
a row with no real position gets all-zero weights and a zero context instead of NaN.

Every function is pure and returns ``(context (B, K), weights (B, S))``; :class:`Attention` is a thin
module holding the parameters.
"""
import torch
from torch import nn


def masked_softmax(scores: torch.Tensor, mask=None) -> torch.Tensor:
    """Softmax over the last dimension of ``scores: (B, S)`` ignoring positions where ``mask`` is False.

    Returns:
        weights of shape (B, S): non-negative, exactly 0 where masked, each row summing to 1 (or all 0
        when a row is entirely masked).
    """
    if mask is None:
        return torch.softmax(scores, dim=-1)
    mask = mask.to(torch.bool)
    filled = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(filled, dim=-1)
    return weights.masked_fill(~mask, 0.0)  # also turns the NaN of an all-masked row into 0


def attend(scores: torch.Tensor, values: torch.Tensor, mask=None):
    """Weights from scores and the weighted sum of values.

    Inputs:
        scores: (B, S); values: (B, S, K); mask: (B, S) bool or None.
    Returns:
        (context of shape (B, K), weights of shape (B, S)).
    """
    weights = masked_softmax(scores, mask)
    context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, 1, S) x (B, S, K) -> (B, K)
    return context, weights


def additive_scores(query, keys, W_q, W_k, v):
    """Bahdanau's ``e_j = v^T tanh(W_q q + W_k h_j)``.

    Inputs:
        query: (B, Q); keys: (B, S, K); W_q: (A, Q); W_k: (A, K); v: (A,).
    Returns:
        scores of shape (B, S).
    """
    hidden = torch.tanh((query @ W_q.T).unsqueeze(1) + keys @ W_k.T)  # (B, 1, A) + (B, S, A)
    return hidden @ v  # (B, S, A) x (A,) -> (B, S)


def dot_scores(query, keys):
    """Luong's ``e_j = q^T h_j``. Inputs: query (B, K); keys (B, S, K). Returns (B, S)."""
    if query.shape[-1] != keys.shape[-1]:
        raise ValueError(f"dot attention needs query and keys of one size, got {query.shape[-1]} "
                         f"and {keys.shape[-1]}; use 'general' or 'concat' otherwise")
    return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)  # (B, S, K) x (B, K, 1) -> (B, S)


def general_scores(query, keys, W):
    """Luong's ``e_j = q^T W h_j``. Inputs: query (B, Q); keys (B, S, K); W (Q, K). Returns (B, S)."""
    return dot_scores(query @ W, keys)


def concat_scores(query, keys, W, v):
    """Luong's ``e_j = v^T tanh(W [q; h_j])``. Inputs: query (B, Q); keys (B, S, K); W (A, Q + K); v (A,).

    Returns (B, S).
    """
    Q = query.shape[-1]
    return additive_scores(query, keys, W[:, :Q], W[:, Q:], v)


def additive_attention(query, keys, mask, W_q, W_k, v):
    """Bahdanau attention: ``(context (B, K), weights (B, S))``; shapes as in :func:`additive_scores`."""
    return attend(additive_scores(query, keys, W_q, W_k, v), keys, mask)


def dot_attention(query, keys, mask):
    """Luong dot attention: ``(context (B, K), weights (B, S))``."""
    return attend(dot_scores(query, keys), keys, mask)


def general_attention(query, keys, mask, W):
    """Luong general (multiplicative) attention: ``(context (B, K), weights (B, S))``."""
    return attend(general_scores(query, keys, W), keys, mask)


def concat_attention(query, keys, mask, W, v):
    """Luong concat attention: ``(context (B, K), weights (B, S))``."""
    return attend(concat_scores(query, keys, W, v), keys, mask)


SCORES = ("additive", "dot", "general", "concat")


class Attention(nn.Module):
    """The parameters of one attention score and a forward that calls the pure function.

    Args:
        kind: one of ``additive``, ``dot``, ``general``, ``concat``.
        query_size: Q; key_size: K; attn_size: A (additive and concat only).
    """

    def __init__(self, kind: str, query_size: int, key_size: int, attn_size: int = 64):
        super().__init__()
        if kind not in SCORES:
            raise ValueError(f"unknown attention {kind!r}; choose one of {SCORES}")
        if kind == "dot" and query_size != key_size:
            raise ValueError(f"dot attention needs query_size == key_size, got {query_size} and {key_size}")
        self.kind = kind

        def uniform(*shape, fan_in):
            return nn.Parameter(torch.empty(*shape).uniform_(-fan_in ** -0.5, fan_in ** -0.5))

        if kind == "additive":
            self.W_q = uniform(attn_size, query_size, fan_in=query_size)
            self.W_k = uniform(attn_size, key_size, fan_in=key_size)
            self.v = uniform(attn_size, fan_in=attn_size)
        elif kind == "general":
            self.W = uniform(query_size, key_size, fan_in=key_size)
        elif kind == "concat":
            self.W = uniform(attn_size, query_size + key_size, fan_in=query_size + key_size)
            self.v = uniform(attn_size, fan_in=attn_size)

    def project_keys(self, keys):
        """The part of the score that depends on the keys only, computed once per source sentence.

        keys (B, S, K) -> (B, S, A) for additive and concat (``W_k h_j``), (B, S, Q) for general
        (``W h_j``), the keys themselves for dot.
        """
        if self.kind == "additive":
            return keys @ self.W_k.T
        if self.kind == "concat":
            return keys @ self.W[:, self.W.shape[1] - keys.shape[-1]:].T
        if self.kind == "general":
            return keys @ self.W.T
        return keys

    def forward(self, query, keys, mask=None, projected=None):
        """query (B, Q), keys (B, S, K), mask (B, S) -> (context (B, K), weights (B, S)).

        ``projected``: :meth:`project_keys` of these keys, to skip recomputing it at every decoder step
        (the result is the same as calling the pure functions).
        """
        if projected is None:
            if self.kind == "additive":
                return additive_attention(query, keys, mask, self.W_q, self.W_k, self.v)
            if self.kind == "dot":
                return dot_attention(query, keys, mask)
            if self.kind == "general":
                return general_attention(query, keys, mask, self.W)
            return concat_attention(query, keys, mask, self.W, self.v)
        if self.kind in ("additive", "concat"):
            W_q = self.W_q if self.kind == "additive" else self.W[:, :query.shape[-1]]
            scores = torch.tanh((query @ W_q.T).unsqueeze(1) + projected) @ self.v  # (B, S)
        else:
            scores = torch.bmm(projected, query.unsqueeze(2)).squeeze(2)  # (B, S)
        return attend(scores, keys, mask)
