"""REINFORCE, the Gaussian location policy and the Recurrent Attention Model of module 04.

* gaussian_log_prob equals torch.distributions.Normal (values and autograd gradients in mu, sigma);
* on a toy Gaussian policy with a quadratic reward, whose exact gradient is known in closed form,
  the REINFORCE estimate from our log-prob and loss converges to it, for mu and for sigma, with and
  without a baseline; the same check fails for a flipped sign, a log-prob without the -log sigma term,
  a baseline that leaks gradient or is added instead of subtracted;
* the baseline lowers the estimator's variance (measured per sample);
* in the RAM, each loss trains only its own part (CE: glimpse/core/action; REINFORCE: location net;
  regression: baseline net), the stored log-probabilities match the sampled locations, and a small
  model learns the translated canvases far above chance in seconds.
"""
import math

import pytest
import torch

from reference_impl import canvas_classifiers as cc
from reference_impl import canvases, ram
from reference_impl.ram import gaussian_log_prob, reinforce_loss

# ----------------------------------------------------------------------------------------------
# the log-probability


def test_gaussian_log_prob_equals_torch_distributions():
    g = torch.Generator().manual_seed(0)
    l = torch.randn(7, 5, 2, generator=g, dtype=torch.float64)
    mu = torch.randn(7, 5, 2, generator=g, dtype=torch.float64, requires_grad=True)
    log_sigma = torch.tensor(-1.3, dtype=torch.float64, requires_grad=True)
    ours = gaussian_log_prob(l, mu, log_sigma.exp())
    theirs = torch.distributions.Normal(mu, log_sigma.exp()).log_prob(l).sum(-1)
    torch.testing.assert_close(ours, theirs)
    w = torch.randn(7, 5, generator=g, dtype=torch.float64)
    g_ours = torch.autograd.grad((ours * w).sum(), (mu, log_sigma))
    g_theirs = torch.autograd.grad((theirs * w).sum(), (mu, log_sigma))
    for a, b in zip(g_ours, g_theirs):
        torch.testing.assert_close(a, b)
    # a float sigma works too
    torch.testing.assert_close(gaussian_log_prob(l, mu, 0.5),
                               torch.distributions.Normal(mu, 0.5).log_prob(l).sum(-1))


# ----------------------------------------------------------------------------------------------
# REINFORCE on a toy policy with a known gradient
#
#   l ~ N(mu, sigma^2 I) in 2-D,  R(l) = -|l - c|^2,  J = E[R] = -|mu - c|^2 - 2 sigma^2
#   dJ/dmu = -2 (mu - c),  dJ/dsigma = -4 sigma

C = torch.tensor([0.3, -0.2], dtype=torch.float64)


def toy_estimate(log_prob, loss_fn, mu0, sigma0, baseline_value, n, seed):
    """Score-function estimate of (dJ/dmu, dJ/dsigma) from ``loss_fn``, per-sample terms, and the
    gradient the policy loss sends into the baseline."""
    g = torch.Generator().manual_seed(seed)
    mu = mu0.clone().expand(n, 2).clone().requires_grad_(True)  # one copy per sample: per-sample grads
    sigma = torch.full((n, 1), sigma0, dtype=torch.float64, requires_grad=True)
    l = (mu + sigma * torch.randn(n, 2, generator=g, dtype=torch.float64)).detach()
    reward = -((l - C) ** 2).sum(1)
    baseline = torch.full((n, 1), float(baseline_value), dtype=torch.float64, requires_grad=True)
    log_pi = log_prob(l, mu, sigma)[:, None]  # (n, 1): one decision per episode
    policy, _ = loss_fn(log_pi, reward, baseline)
    d_mu, d_sigma, d_base = torch.autograd.grad(policy, (mu, sigma, baseline), allow_unused=True)
    per_mu = -n * d_mu  # (n, 2): each sample's contribution to dJ/dmu
    per_sigma = -n * d_sigma[:, 0]
    leak = 0.0 if d_base is None else d_base.abs().max().item()
    return per_mu, per_sigma, leak


def check_toy_reinforce(log_prob, loss_fn, baseline="mean", n=200_000, seed=0):
    """Raise AssertionError unless the estimate matches the exact gradient within 5 standard errors
    and the policy loss sends no gradient into the baseline."""
    mu0 = torch.tensor([-0.4, 0.5], dtype=torch.float64)
    sigma0 = 0.3
    exact_J = -((mu0 - C) ** 2).sum().item() - 2 * sigma0 ** 2
    b = exact_J if baseline == "mean" else 0.0
    per_mu, per_sigma, leak = toy_estimate(log_prob, loss_fn, mu0, sigma0, b, n, seed)
    assert leak == 0.0, f"the policy loss sends gradient {leak:.3g} into the baseline"
    exact_mu = -2 * (mu0 - C)
    est_mu, se_mu = per_mu.mean(0), per_mu.std(0) / math.sqrt(n)
    assert ((est_mu - exact_mu).abs() < 5 * se_mu + 1e-9).all(), (est_mu, exact_mu, se_mu)
    exact_sigma = -4 * sigma0
    est_sigma, se_sigma = per_sigma.mean(), per_sigma.std() / math.sqrt(n)
    assert abs(est_sigma - exact_sigma) < 5 * se_sigma, (est_sigma.item(), exact_sigma, se_sigma.item())
    return per_mu, per_sigma


@pytest.mark.parametrize("baseline", ["mean", "zero"])
def test_reinforce_estimate_converges_to_the_exact_gradient(baseline):
    per_mu, _ = check_toy_reinforce(gaussian_log_prob, reinforce_loss, baseline)
    # and the standard error is small enough for the check to mean something
    assert (per_mu.std(0) / math.sqrt(len(per_mu)) < 0.02).all()


def test_the_baseline_reduces_variance():
    mu0 = torch.tensor([-0.4, 0.5], dtype=torch.float64)
    exact_J = -((mu0 - C) ** 2).sum().item() - 2 * 0.3 ** 2
    var = {}
    for name, b in (("none", 0.0), ("mean", exact_J)):
        per_mu, _, _ = toy_estimate(gaussian_log_prob, reinforce_loss, mu0, 0.3, b, 50_000, 1)
        var[name] = per_mu.var(0).sum().item()
    assert var["mean"] < 0.5 * var["none"], var


def _flipped_sign(log_pi, reward, baseline):
    policy, base = reinforce_loss(log_pi, reward, baseline)
    return -policy, base


def _baseline_not_detached(log_pi, reward, baseline):
    policy = -(log_pi * (reward[:, None] - baseline)).sum(1).mean()
    return policy, ((baseline - reward[:, None]) ** 2).mean()


def _baseline_added(log_pi, reward, baseline):
    return reinforce_loss(log_pi, reward, -baseline.detach())[0], ((baseline - reward[:, None]) ** 2).mean()


def _log_prob_without_normalizer(l, mu, sigma):
    return (-0.5 * ((l - mu) / sigma) ** 2).sum(-1)


@pytest.mark.parametrize("log_prob, loss_fn, baseline", [
    (gaussian_log_prob, _flipped_sign, "mean"),
    (gaussian_log_prob, _baseline_not_detached, "mean"),
    (_log_prob_without_normalizer, reinforce_loss, "zero"),
], ids=["flipped sign", "baseline gradient leaks into the policy loss", "log-prob without -log sigma"])
def test_the_toy_check_catches_wrong_variants(log_prob, loss_fn, baseline):
    with pytest.raises(AssertionError):
        check_toy_reinforce(log_prob, loss_fn, baseline)


def test_a_baseline_added_instead_of_subtracted_increases_variance():
    mu0 = torch.tensor([-0.4, 0.5], dtype=torch.float64)
    exact_J = -((mu0 - C) ** 2).sum().item() - 2 * 0.3 ** 2
    right, _, _ = toy_estimate(gaussian_log_prob, reinforce_loss, mu0, 0.3, exact_J, 50_000, 2)
    wrong, _, _ = toy_estimate(gaussian_log_prob, _baseline_added, mu0, 0.3, exact_J, 50_000, 2)
    assert wrong.var(0).sum() > 3 * right.var(0).sum()


def test_reinforce_loss_values_and_the_baseline_regression():
    log_pi = torch.tensor([[-1.0, -2.0], [-0.5, 0.0]], requires_grad=True)
    reward = torch.tensor([1.0, 0.0])
    baseline = torch.tensor([[0.25, 0.5], [0.5, 0.75]], requires_grad=True)
    policy, base = reinforce_loss(log_pi, reward, baseline)
    # -(1/2) [(-1)(0.75) + (-2)(0.5) + (-0.5)(-0.5) + 0]
    assert policy.item() == pytest.approx(0.75)
    assert base.item() == pytest.approx((0.75 ** 2 + 0.5 ** 2 + 0.5 ** 2 + 0.75 ** 2) / 4)
    (g_b,) = torch.autograd.grad(base, baseline, retain_graph=True)
    torch.testing.assert_close(g_b, 2 * (baseline - reward[:, None]).detach() / 4)
    assert torch.autograd.grad(base, log_pi, allow_unused=True)[0] is None


# ----------------------------------------------------------------------------------------------
# the model


def small_cfg(**kw):
    return ram.RAMConfig(**{**dict(patch_size=4, n_scales=2, n_glimpses=4, glimpse_hidden=16, glimpse_size=16,
                                   hidden=24), **kw})


def test_ram_shapes_and_stored_log_probs():
    torch.manual_seed(0)
    model = ram.RAM(small_cfg(learn_std=True))
    x = torch.rand(5, 1, 20, 20)
    out = model(x)
    assert out.logits.shape == (5, 10)
    assert out.log_pi.shape == out.baseline.shape == (5, 3)
    assert out.locations.shape == (5, 4, 2) and out.means.shape == (5, 3, 2)
    assert torch.equal(out.locations[:, 0], torch.zeros(5, 2))  # l_0: the centre
    assert out.locations.abs().max() <= 1
    sigma = model.location_net.log_std.exp()
    inside = (out.locations[:, 1:].abs() < 1).all(-1)  # unclamped samples: log_pi is their log-density
    want = torch.distributions.Normal(out.means, sigma).log_prob(out.locations[:, 1:]).sum(-1)
    torch.testing.assert_close(out.log_pi[inside], want[inside])
    det = model(x, sample=False)
    torch.testing.assert_close(det.locations[:, 1:], det.means)


def test_each_loss_trains_only_its_part():
    torch.manual_seed(1)
    model = ram.RAM(small_cfg(learn_std=True))
    x, y = torch.rand(8, 1, 20, 20), torch.randint(0, 10, (8,))
    out = model(x)
    reward = (out.logits.argmax(1) == y).double()
    policy, base = reinforce_loss(out.log_pi, reward, out.baseline)
    ce = torch.nn.functional.cross_entropy(out.logits, y)
    parts = {"glimpse": model.glimpse_net, "core": model.core, "location": model.location_net,
             "action": model.action_net, "baseline": model.baseline_net}

    def touched(loss):
        names = []
        for name, module in parts.items():
            grads = torch.autograd.grad(loss, list(module.parameters()), retain_graph=True, allow_unused=True)
            if any(g is not None and g.abs().sum() > 0 for g in grads):
                names.append(name)
        return set(names)

    assert touched(ce) == {"glimpse", "core", "action"}
    assert touched(policy) == {"location"}
    assert touched(base) == {"baseline"}


def test_random_glimpses_have_no_policy():
    model = ram.RAM(small_cfg(random_glimpses=True))
    out = model(torch.rand(6, 1, 20, 20), generator=torch.Generator().manual_seed(0))
    assert torch.equal(out.log_pi, torch.zeros(6, 3))
    assert out.locations.abs().max() <= 1 and out.locations[:, 0].abs().sum() > 0
    loss, parts = ram.hybrid_loss(out, torch.zeros(6, dtype=torch.long))
    loss.backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.location_net.parameters())


def test_baselines_follow_the_paper_on_60x60():
    conv = cc.ConvNet(60)
    assert conv.net[0].kernel_size == (10, 10) and conv.net[0].stride == (5, 5) and conv.net[0].out_channels == 8
    assert cc.FCNet(60)(torch.rand(3, 1, 60, 60)).shape == (3, 10)
    assert conv(torch.rand(3, 1, 60, 60)).shape == (3, 10)
    assert cc.ConvNet(36)(torch.rand(2, 1, 36, 36)).shape == (2, 10)


@pytest.mark.slow
def test_small_ram_learns_translated_digits(one_thread):
    """A small RAM beats chance (10%) by far within a few seconds of CPU training."""
    d = canvases.make_canvases("translated", n_train=2000, n_test=500, canvas_size=16, digit_scale=1, seed=0)
    torch.manual_seed(0)
    model = ram.RAM(ram.RAMConfig(patch_size=4, n_scales=2, n_glimpses=3, glimpse_hidden=64, glimpse_size=64,
                                  hidden=64))
    hist = ram.train_ram(model, d, epochs=8, lr=3e-3, batch_size=50, progress=False, device="cpu")
    assert hist["test_acc"] > 0.3, hist
    assert hist["train_acc"][-1] > hist["train_acc"][0]


def test_hybrid_loss_rewards():
    """0/1 reward (Mnih et al.) and the log-likelihood reward of the variational bound (Ba et al.)."""
    torch.manual_seed(2)
    model = ram.RAM(small_cfg())
    x, y = torch.rand(6, 1, 20, 20), torch.randint(0, 10, (6,))
    out = model(x)
    ce = torch.nn.functional.cross_entropy(out.logits, y, reduction="none")
    for kind, reward in (("correct", (out.logits.argmax(1) == y).float()), ("log_likelihood", -ce)):
        total, parts = ram.hybrid_loss(out, y, reward=kind)
        policy, base = reinforce_loss(out.log_pi, reward.detach(), out.baseline)
        assert total.item() == pytest.approx((ce.mean() + policy + base).item(), rel=1e-6)
        assert parts["reward"] == pytest.approx(reward.mean().item(), rel=1e-6)
    with pytest.raises(ValueError):
        ram.hybrid_loss(out, y, reward="accuracy")
