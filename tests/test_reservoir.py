"""reference_impl.sequence_data.mackey_glass and reference_impl.reservoir: the generator against an
independent fine-step Euler integration, the ridge readout against scikit-learn, the echo state
property, and one-step prediction quality (small, fast versions of the benchmark)."""
import numpy as np
import pytest

from reference_impl import data, reservoir, sequence_data


def euler_mackey_glass(n_samples, tau=17.0, dt=0.005, x0=1.2):
    """Independent check: explicit Euler with a small step, no interpolation, same parameters."""
    lag, stride = int(round(tau / dt)), int(round(1.0 / dt))
    steps = stride * (n_samples - 1) + 1
    x = np.full(lag + steps, x0)
    for i in range(lag, lag + steps - 1):
        xt = x[i - lag]
        x[i + 1] = x[i] + dt * (0.2 * xt / (1 + xt ** 10) - 0.1 * x[i])
    return x[lag::stride][:n_samples]


def test_mackey_glass_matches_independent_integration():
    ours = sequence_data.mackey_glass(150, discard=0.0)
    ref = euler_mackey_glass(150)
    assert np.max(np.abs(ours - ref)) < 5e-3  # Euler's O(dt) error; chaos amplifies it slowly
    assert np.max(np.abs(ours[:60] - ref[:60])) < 5e-4


def test_mackey_glass_is_deterministic_and_chaotic_range():
    a = sequence_data.mackey_glass(3000)
    b = data.load("mackey_glass", n_samples=3000)
    assert np.array_equal(a, b) and a.shape == (3000,) and a.dtype == np.float64
    assert 0.2 < a.min() < 0.6 and 1.1 < a.max() < 1.5  # the familiar range of the tau = 17 attractor
    # not periodic: the series never returns to within 1e-6 of an earlier segment
    d = [np.max(np.abs(a[1000:1100] - a[k:k + 100])) for k in range(1100, 2900)]
    assert min(d) > 1e-6
    with pytest.raises(ValueError, match="whole number"):
        sequence_data.mackey_glass(10, dt=0.3)


def test_ridge_readout_equals_sklearn():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((200, 12)), rng.standard_normal((200, 3))
    for lam in (1e-6, 0.1, 10.0):
        ours = reservoir.ridge_readout(X, Y, lam)
        theirs = Ridge(alpha=lam, fit_intercept=False, solver="cholesky").fit(X, Y).coef_
        assert ours.shape == (3, 12)
        assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    one = reservoir.ridge_readout(X, Y[:, :1], 0.1)  # a single target keeps its axis: (1, F)
    assert one.shape == (1, 12)
    assert np.allclose(one[0], Ridge(alpha=0.1, fit_intercept=False).fit(X, Y[:, 0]).coef_, rtol=1e-9)
    with pytest.raises(ValueError, match=r"X \(200, 12\), Y \(199, 3\)"):
        reservoir.ridge_readout(X, Y[:-1], 1.0)


def test_spectral_radius_scaling_and_echo_state_property():
    W_in, W = reservoir.reservoir_weights(200, 1, rho=0.9, density=0.1, seed=3)
    assert abs(reservoir.spectral_radius(W) - 0.9) < 1e-9
    assert W_in.shape == (200, 2) and np.mean(W != 0) < 0.15
    u = np.sin(np.arange(400) / 5.0)[:, None]
    a = reservoir.reservoir_states(u, W_in, W, leak=0.5, s0=np.ones(200))
    b = reservoir.reservoir_states(u, W_in, W, leak=0.5, s0=-np.ones(200))
    assert np.max(np.abs(a[0] - b[0])) > 0.1
    assert np.max(np.abs(a[-1] - b[-1])) < 1e-6  # the initial state is forgotten


def test_esn_predicts_mackey_glass():
    x = sequence_data.mackey_glass(2400) - 1.0
    esn = reservoir.EchoStateNetwork(n_reservoir=300, washout=100).fit(x[:1500, None], x[1:1501, None])
    u = x[:2000, None]
    pred = esn.predict(u)[1500:, 0]
    assert reservoir.nrmse(pred, x[1501:2001]) < 0.01
    free = esn.generate(300)[:, 0]
    assert reservoir.free_run_horizon(free, x[1500:1800]) >= 100
    # the first generated value is the one-step prediction of x[1500] from the end of training
    assert abs(free[0] - esn.predict(x[:1500, None])[-1, 0]) < 1e-12


def test_free_run_horizon_criterion():
    target = np.sin(np.arange(100) / 3.0)
    pred = target.copy()
    pred[40:] += 1.0
    assert reservoir.free_run_horizon(pred, target) == 40
    assert reservoir.free_run_horizon(target, target) == 100
