"""Echo state networks (reservoir computing): a fixed random recurrent network, only the readout is trained.

Jaeger (2001), "The 'echo state' approach to analysing and training recurrent neural networks";
Jaeger & Haas (2004); the recipe of Lukoševičius (2012), "A practical guide to applying echo state
networks". With input u_t (D,), reservoir state s_t (H,) and leaking rate alpha (a leaky-integration
unit, deck 004):

    s~_t = tanh(W_in [1; u_t] + W s_{t-1})
    s_t  = (1 - alpha) s_{t-1} + alpha s~_t
    y_t  = W_out [1; u_t; s_t]                         (the only trained part)

W is sparse random, rescaled so that its spectral radius rho(W) = max |eigenvalue| is a chosen value
(below ~1 for the echo state property: the state forgets its initial condition). The readout is
ridge regression on the collected features X (T, F) and targets Y (T, O):

    W_out = Y^T X (X^T X + lambda I)^{-1}               of shape (O, F)

Free-running prediction feeds each output back as the next input (u_{t+1} = y_t): after the readout
is trained with the true series as input (teacher forcing), the network runs on its own.
"""
from dataclasses import dataclass

import numpy as np


def spectral_radius(W):
    """Largest absolute eigenvalue of a square matrix W of shape (H, H)."""
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def scale_to_spectral_radius(W, rho):
    """``W`` rescaled so that its spectral radius equals ``rho``; W of shape (H, H)."""
    current = spectral_radius(W)
    if current == 0:
        raise ValueError("W has spectral radius 0 (nilpotent or zero); draw another matrix")
    return W * (rho / current)


def reservoir_weights(n_reservoir, n_inputs, rho=0.9, density=0.1, input_scale=1.0, seed=0):
    """Random input and recurrent weights of a reservoir.

    Inputs:
        n_reservoir: H; n_inputs: D.
        rho: spectral radius of W; density: fraction of non-zero entries of W.
        input_scale: W_in entries are uniform in [-input_scale, input_scale].
    Returns:
        W_in of shape (H, 1 + D) (the first column multiplies the constant 1), W of shape (H, H).
    """
    rng = np.random.default_rng(seed)
    W_in = rng.uniform(-input_scale, input_scale, size=(n_reservoir, 1 + n_inputs))
    W = rng.uniform(-0.5, 0.5, size=(n_reservoir, n_reservoir))
    W = W * (rng.random((n_reservoir, n_reservoir)) < density)
    return W_in, scale_to_spectral_radius(W, rho)


def reservoir_states(u, W_in, W, leak=1.0, s0=None):
    """Run the reservoir over an input sequence (teacher forcing: the inputs are given).

    Inputs:
        u: inputs, of shape (T, D).
        W_in: (H, 1 + D); W: (H, H); leak: alpha in (0, 1].
        s0: initial state of shape (H,), default zeros.
    Returns:
        states s_1..s_T, of shape (T, H).
    """
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2 or u.shape[1] + 1 != W_in.shape[1]:
        raise ValueError(f"u: expected shape (T, {W_in.shape[1] - 1}), got {u.shape}")
    H = W.shape[0]
    s = np.zeros(H) if s0 is None else np.asarray(s0, dtype=np.float64)
    states = np.empty((len(u), H))
    drive = u @ W_in[:, 1:].T + W_in[:, 0]  # (T, H): input part of every step at once
    for t in range(len(u)):
        s = (1.0 - leak) * s + leak * np.tanh(drive[t] + W @ s)
        states[t] = s
    return states


def readout_features(u, states):
    """[1; u_t; s_t] for every step: (T, D) and (T, H) -> (T, 1 + D + H)."""
    return np.hstack([np.ones((len(u), 1)), u, states])


def ridge_readout(X, Y, ridge):
    """Ridge-regression readout W_out = Y^T X (X^T X + ridge I)^{-1}.

    Inputs:
        X: features, of shape (T, F).
        Y: targets, of shape (T, O).
        ridge: lambda >= 0 (every weight is penalised, the bias column included).
    Returns:
        W_out of shape (O, F), so that predictions are X @ W_out.T.
    """
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y):
        raise ValueError(f"X must be (T, F) and Y (T, O) with the same T; got X {X.shape}, Y {Y.shape}")
    A = X.T @ X + ridge * np.eye(X.shape[1])  # (F, F), symmetric positive definite for ridge > 0
    return np.linalg.solve(A, X.T @ Y).T


def nrmse(prediction, target):
    """Root mean squared error divided by the standard deviation of the target (0 = perfect, 1 = predicting the mean)."""
    prediction, target = np.asarray(prediction), np.asarray(target)
    return float(np.sqrt(np.mean((prediction - target) ** 2)) / np.std(target))


@dataclass
class EchoStateNetwork:
    """An ESN for one-step prediction of a series and free-running generation.

    Attributes:
        n_reservoir (H), rho, density, input_scale, leak, ridge, washout (steps ignored while fitting),
        seed. After :meth:`fit`: W_in (H, 1 + D), W (H, H), W_out (O, 1 + D + H), last state and input.
    """

    n_reservoir: int = 500
    rho: float = 1.25
    density: float = 0.1
    input_scale: float = 1.0
    leak: float = 0.3
    ridge: float = 1e-8
    washout: int = 100
    seed: int = 0

    def fit(self, u, y):
        """Train the readout to map inputs u (T, D) to targets y (T, O) (teacher forcing).

        Returns self; keeps the state after the last step so :meth:`generate` can continue from it.
        """
        u, y = np.atleast_2d(np.asarray(u, float).T).T, np.atleast_2d(np.asarray(y, float).T).T
        self.W_in, self.W = reservoir_weights(self.n_reservoir, u.shape[1], self.rho, self.density,
                                              self.input_scale, self.seed)
        states = reservoir_states(u, self.W_in, self.W, self.leak)
        X = readout_features(u, states)[self.washout:]
        self.W_out = ridge_readout(X, y[self.washout:], self.ridge)
        self.last_state, self.last_input = states[-1], u[-1]
        return self

    def predict(self, u, s0=None):
        """One-step predictions for inputs u (T, D) from state s0 (default zeros): (T, O)."""
        u = np.atleast_2d(np.asarray(u, float).T).T
        states = reservoir_states(u, self.W_in, self.W, self.leak, s0)
        return readout_features(u, states) @ self.W_out.T

    def generate(self, n_steps, s0=None, u0=None):
        """Free run: continue from state s0 reached after input u0 (default: where :meth:`fit` ended),
        predict the next value, feed it back as the next input, and so on.

        Returns:
            predictions, of shape (n_steps, O); the first predicts the value after u0. O must equal D.
        """
        s = self.last_state.copy() if s0 is None else np.asarray(s0, float)
        u = self.last_input.copy() if u0 is None else np.atleast_1d(np.asarray(u0, float))
        out = np.empty((n_steps, self.W_out.shape[0]))
        for t in range(n_steps):
            if t > 0:
                u = out[t - 1]
                s = (1 - self.leak) * s + self.leak * np.tanh(self.W_in[:, 0] + self.W_in[:, 1:] @ u + self.W @ s)
            out[t] = self.W_out @ np.concatenate([[1.0], u, s])
        return out


def free_run_horizon(prediction, target, threshold=0.1):
    """Steps a free run tracks the target: the index of the first step whose absolute error exceeds
    ``threshold`` times the target's standard deviation (len(target) if it never does).

    Inputs: prediction, target: (T,) arrays.
    """
    err = np.abs(np.asarray(prediction).ravel() - np.asarray(target).ravel())
    bad = np.nonzero(err > threshold * np.std(target))[0]
    return int(bad[0]) if len(bad) else len(err)
