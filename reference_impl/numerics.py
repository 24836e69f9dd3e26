"""Numerically stable softmax, log-softmax and cross-entropy, and centred-difference gradient checks.

The warm-up of module 00: every later module's classifier ends in these, and every hand-written
backward pass in the course is checked with :func:`numeric_gradient`.

Notation: N batch, C classes. All functions are NumPy, any float dtype, and keep the input's dtype.

    softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m),          m = max_j x_j
    log_softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m)
    CE(x, y)         = -(1/N) sum_n log_softmax(x_n)_{y_n}
    dCE/dx           = (softmax(x) - onehot(y)) / N
    df/dx_i          ~ (f(x + h e_i) - f(x - h e_i)) / (2h)           error O(h^2)
"""
import numpy as np


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, shifted by the maximum so that exp never overflows.

    Inputs:
        x: array of any shape, e.g. (N, C) logits.
    Returns:
        array of the same shape and dtype; entries in [0, 1] summing to 1 along ``axis``.
    """
    x = np.asarray(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(softmax(x)) computed without forming softmax (no log(0) for very negative logits).

    Inputs:
        x: array of any shape.
    Returns:
        array of the same shape and dtype, all entries <= 0.
    """
    x = np.asarray(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy of integer targets under softmax(logits), as ``torch.nn.functional.cross_entropy``.

    Inputs:
        logits: (N, C) float array.
        targets: (N,) integer array with values in [0, C).
    Returns:
        a Python float, the mean over the batch of -log p(target).
    """
    logits = np.asarray(logits)
    targets = np.asarray(targets)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got {logits.shape}")
    if targets.shape != (logits.shape[0],):
        raise ValueError(f"targets must have shape ({logits.shape[0]},), got {targets.shape}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"targets must be integers, got {targets.dtype}")
    n = logits.shape[0]
    return float(-np.mean(log_softmax(logits, axis=1)[np.arange(n), targets]))


def cross_entropy_backward(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Gradient of :func:`cross_entropy` with respect to the logits.

    Inputs:
        logits: (N, C); targets: (N,) integers.
    Returns:
        (N, C) array: (softmax(logits) - onehot(targets)) / N.
    """
    logits = np.asarray(logits)
    n = logits.shape[0]
    grad = softmax(logits, axis=1)
    grad[np.arange(n), targets] -= 1
    return grad / n


def numeric_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of a scalar function ``f`` at ``x``.

    ``x`` is perturbed in place one element at a time and restored afterwards.

    Inputs:
        f: callable taking an array shaped like ``x`` and returning a scalar.
        x: float array of any shape (use float64: float32 loses most digits to cancellation).
        h: step size.
    Returns:
        array shaped like ``x``: (f(x + h e_i) - f(x - h e_i)) / (2h) for every element i.
    """
    if not np.issubdtype(np.asarray(x).dtype, np.floating):
        raise TypeError(f"numeric_gradient needs a float array, got {np.asarray(x).dtype}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = float(f(x))
        x[i] = old - h
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
        it.iternext()
    return grad


def rel_error(x, y, eps: float = 1e-12) -> float:
    """max |x - y| / max(|x| + |y|, eps): below 1e-7 in float64 means the gradients agree."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(eps, np.abs(x) + np.abs(y))))
