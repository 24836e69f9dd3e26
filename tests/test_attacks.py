"""reference_impl.attacks / defenses / classifiers against torchattacks (Harry24k), autograd and properties.

The cross-checks use torchattacks 3.5.1, installed with --no-deps (the Makefile's NODEPS_PACKAGES):
* FGSM (untargeted, targeted) and PGD without random start give the same images (max |diff| <= 1e-6);
* DeepFool and C&W L2 (one value of c, as torchattacks.CW) reach success rates within 5 points and median
  L2 norms within 15% of the library's on the same model and inputs.
"""
import functools

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from reference_impl import attacks, classifiers, config, data, defenses
from reference_impl.attack_checks import check_adversarial
from reference_impl.grading import GradingError

torchattacks = pytest.importorskip("torchattacks", reason="torchattacks is installed by `make test` (NODEPS_PACKAGES)")


@functools.lru_cache(maxsize=None)
def _digits(scale=None):
    d = data.load("digits")
    if scale is not None:  # squeeze into [lo, hi] so that the [0, 1] box never binds
        lo, hi = scale
        d.x_train, d.x_test = lo + (hi - lo) * d.x_train, lo + (hi - lo) * d.x_test
    return d


@functools.lru_cache(maxsize=None)
def _trained_cnn(scale=None, epochs=8):
    config.seed_everything(0)
    model = classifiers.SmallCNN(8)
    classifiers.train(model, _digits(scale), epochs, device="cpu", progress=False)
    return model.eval()


@pytest.fixture(scope="module")
def cnn():
    return _trained_cnn()


@pytest.fixture(scope="module")
def batch():
    d = _digits()
    return d.x_test[:120], d.y_test[:120]


def _success_and_median(model, x, y, adv):
    pred = classifiers.predict(model, adv)
    ok = pred != y
    norms = (adv - x).flatten(1).norm(dim=1)
    return ok.float().mean().item(), norms[ok].median().item()


# ----------------------------------------------------------------------------------------------
# FGSM and PGD equal the library's images


def test_classifier_learns_digits(cnn):
    d = _digits()
    assert classifiers.accuracy(cnn, d.x_test, d.y_test) >= 0.95


@pytest.mark.parametrize("eps", [0.05, 0.1, 0.3])
def test_fgsm_equals_torchattacks(cnn, batch, eps):
    x, y = batch
    ours = attacks.fgsm(cnn, x, y, eps)
    lib = torchattacks.FGSM(cnn, eps=eps)(x, y)
    assert (ours - lib).abs().max().item() <= 1e-6
    assert (ours - x).abs().max().item() <= eps + 1e-6 and ours.min() >= 0 and ours.max() <= 1
    # the attack does something: accuracy drops
    assert classifiers.accuracy(cnn, ours, y) < classifiers.accuracy(cnn, x, y) - 0.05


def test_targeted_fgsm_equals_torchattacks_and_raises_target_probability(cnn, batch):
    x, y = batch
    target = (y + 3) % 10
    atk = torchattacks.FGSM(cnn, eps=0.1)
    atk.set_mode_targeted_by_label(quiet=True)
    ours = attacks.fgsm(cnn, x, target, 0.1, targeted=True)
    assert (ours - atk(x, target)).abs().max().item() <= 1e-6
    with torch.no_grad():
        p_before = F.softmax(cnn(x), 1).gather(1, target[:, None]).mean()
        p_after = F.softmax(cnn(ours), 1).gather(1, target[:, None]).mean()
    assert p_after > p_before


@pytest.mark.parametrize("eps,alpha,steps", [(0.1, 0.01, 40), (0.2, 0.05, 10), (0.3, 0.1, 3)])
def test_pgd_without_random_start_equals_torchattacks(cnn, batch, eps, alpha, steps):
    x, y = batch
    ours = attacks.pgd(cnn, x, y, eps, alpha, steps, random_start=False)
    lib = torchattacks.PGD(cnn, eps=eps, alpha=alpha, steps=steps, random_start=False)(x, y)
    assert (ours - lib).abs().max().item() <= 1e-6
    assert (attacks.bim(cnn, x, y, eps, alpha, steps) - ours).abs().max().item() == 0


def test_targeted_pgd_equals_torchattacks(cnn, batch):
    x, y = batch
    target = (y + 1) % 10
    atk = torchattacks.PGD(cnn, eps=0.2, alpha=0.02, steps=20, random_start=False)
    atk.set_mode_targeted_by_label(quiet=True)
    ours = attacks.pgd(cnn, x, target, 0.2, 0.02, 20, random_start=False, targeted=True)
    assert (ours - atk(x, target)).abs().max().item() <= 1e-6
    assert (classifiers.predict(cnn, ours) == target).float().mean() > 0.5


def test_pgd_random_start_stays_in_the_ball_and_is_repeatable(cnn, batch):
    x, y = batch
    start = attacks.pgd(cnn, x, y, 0.1, 0.01, steps=0, generator=torch.Generator().manual_seed(1))
    moved = (start - x).abs()
    assert moved.max() <= 0.1 + 1e-6 and start.min() >= 0 and start.max() <= 1
    inside = (x > 0.1) & (x < 0.9)            # where clipping cannot bind, the start is U(-eps, eps)
    assert moved[inside].mean().item() == pytest.approx(0.05, abs=0.005)
    a = attacks.pgd(cnn, x, y, 0.1, 0.02, 10, generator=torch.Generator().manual_seed(1))
    b = attacks.pgd(cnn, x, y, 0.1, 0.02, 10, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and (a - x).abs().max() <= 0.1 + 1e-6
    # PGD (40 steps) is at least as strong as FGSM at the same eps
    strong = attacks.pgd(cnn, x, y, 0.1, 0.01, 40, random_start=False)
    assert classifiers.accuracy(cnn, strong, y) <= classifiers.accuracy(cnn, attacks.fgsm(cnn, x, y, 0.1), y)


# ----------------------------------------------------------------------------------------------
# DeepFool and C&W agree with the library statistically


def test_deepfool_matches_torchattacks_where_the_box_does_not_bind():
    """Inside [0.25, 0.75] clipping never binds, so both run the paper's algorithm exactly."""
    model = _trained_cnn(scale=(0.25, 0.75))
    d = _digits((0.25, 0.75))
    x, y = d.x_test[:60], d.y_test[:60]
    ours = attacks.deepfool(model, x, y)
    lib = torchattacks.DeepFool(model, steps=50, overshoot=0.02)(x, y)
    assert 0 < ours.min() and ours.max() < 1, "the box bound: this comparison is meant to avoid it"
    s_ours, m_ours = _success_and_median(model, x, y, ours)
    s_lib, m_lib = _success_and_median(model, x, y, lib)
    assert abs(s_ours - s_lib) <= 0.05, (s_ours, s_lib)
    assert abs(m_ours - m_lib) <= 0.15 * m_lib, (m_ours, m_lib)


def test_deepfool_on_raw_digits_succeeds_at_least_as_often_as_the_library(cnn, batch):
    """On [0, 1] images torchattacks clips after every step and stalls on saturated pixels; the paper
    accumulates the steps and clips once, which never succeeds less often."""
    x, y = batch[0][:20], batch[1][:20]
    ours = attacks.deepfool(cnn, x, y)
    lib = torchattacks.DeepFool(cnn, steps=20)(x, y)
    s_ours, m_ours = _success_and_median(cnn, x, y, ours)
    s_lib, _ = _success_and_median(cnn, x, y, lib)
    assert s_ours >= s_lib and s_ours >= 0.95
    assert ours.min() >= 0 and ours.max() <= 1


def test_deepfool_on_a_linear_model_is_one_exact_projection():
    """For an affine classifier the nearest boundary is known in closed form: |f'_l| / ||w'_l||."""
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(16, 5)).double()
    x = 0.4 + 0.2 * torch.rand(8, 1, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        logits = lin(x)
    y = logits.argmax(1)
    W = lin[1].weight
    w = W.unsqueeze(0) - W[y].unsqueeze(1)                        # (N, K, D)
    f = logits - logits.gather(1, y[:, None])
    dist = (f.abs() / w.norm(dim=2)).scatter(1, y[:, None], float("inf")).min(1).values
    adv = attacks.deepfool(lin, x, y, overshoot=0.1)
    norms = (adv - x).flatten(1).norm(dim=1)
    assert torch.allclose(norms, 1.1 * (dist + 1e-4), rtol=1e-6)
    assert (classifiers.predict(lin, adv) != y).all()


def test_cw_matches_torchattacks_at_one_value_of_c(cnn, batch):
    x, y = batch[0][:80], batch[1][:80]
    for c in (1.0, 10.0):
        ours = attacks.cw_l2(cnn, x, y, c=c, steps=60, lr=0.01, binary_search_steps=1)
        lib = torchattacks.CW(cnn, c=c, kappa=0, steps=60, lr=0.01)(x, y)
        s_ours, m_ours = _success_and_median(cnn, x, y, ours)
        s_lib, m_lib = _success_and_median(cnn, x, y, lib)
        assert abs(s_ours - s_lib) <= 0.05, (c, s_ours, s_lib)
        assert abs(m_ours - m_lib) <= 0.15 * m_lib, (c, m_ours, m_lib)


def test_cw_binary_search_finds_all_and_smaller_perturbations_than_deepfool(cnn, batch):
    x, y = batch[0][:40], batch[1][:40]
    one = attacks.cw_l2(cnn, x, y, c=10.0, steps=100, lr=0.05, binary_search_steps=1)
    searched = attacks.cw_l2(cnn, x, y, c=1.0, steps=100, lr=0.05, binary_search_steps=6)
    s1, m1 = _success_and_median(cnn, x, y, one)
    s, m = _success_and_median(cnn, x, y, searched)
    assert s == 1.0 and m < m1
    assert searched.min() >= 0 and searched.max() <= 1
    targets = (y + 2) % 10
    tgt = attacks.cw_l2(cnn, x[:10], targets[:10], c=1.0, steps=100, lr=0.05, binary_search_steps=5, targeted=True)
    assert (classifiers.predict(cnn, tgt) == targets[:10]).float().mean() >= 0.9


# ----------------------------------------------------------------------------------------------
# JSMA, universal perturbation, rotations, transfer


def test_jsma_reaches_targets_with_few_pixels_like_torchattacks(cnn, batch):
    x, y = batch[0][:30], batch[1][:30]
    target = (y + 1) % 10
    ours = attacks.jsma(cnn, x, target, theta=1.0, gamma=0.2)
    atk = torchattacks.JSMA(cnn, theta=1.0, gamma=0.2)
    atk.set_mode_targeted_by_label(quiet=True)
    lib = atk(x, target)
    hit_ours = (classifiers.predict(cnn, ours) == target).float().mean().item()
    hit_lib = (classifiers.predict(cnn, lib) == target).float().mean().item()
    assert hit_ours >= 0.7 and abs(hit_ours - hit_lib) <= 0.15, (hit_ours, hit_lib)
    changed = ((ours - x).abs() > 1e-6).flatten(1).sum(1)
    assert changed.max() <= 2 * 7 and ours.min() >= 0 and ours.max() <= 1   # ceil(64 * 0.2 / 2) pairs


def test_universal_perturbation_beats_random_noise_of_the_same_size(cnn):
    d = _digits()
    g = torch.Generator().manual_seed(0)
    clean = classifiers.predict(cnn, d.x_test)

    def fooling(p, x=d.x_test, ref=clean):
        return (classifiers.predict(cnn, torch.clamp(x + p, 0, 1)) != ref).float().mean().item()

    noise = [fooling(0.2 * torch.sign(torch.randn(1, 1, 8, 8, generator=g))) for _ in range(5)]
    v = attacks.universal_perturbation(cnn, d.x_train[:300], eps=0.2, method="gradient", max_passes=3, generator=g)
    assert v.shape == (1, 1, 8, 8) and v.abs().max() <= 0.2 + 1e-6
    assert fooling(v) > max(noise) + 0.2, (fooling(v), noise)   # on held-out images: it generalises
    # the paper's DeepFool-driven version (one short pass): bounded, and fools more of its own images than noise
    x = d.x_train[:64]
    vd = attacks.universal_perturbation(cnn, x, eps=0.2, method="deepfool", max_passes=1, batch_size=16,
                                        max_iter=10, generator=g)
    assert vd.abs().max() <= 0.2 + 1e-6
    own = classifiers.predict(cnn, x)
    assert fooling(vd, x, own) > sum(fooling(0.2 * torch.sign(torch.randn(1, 1, 8, 8, generator=g)), x, own)
                                     for _ in range(5)) / 5


def test_rotate_identity_and_quarter_turn():
    x = torch.rand(3, 1, 8, 8)
    assert torch.allclose(attacks.rotate(x, 0.0), x, atol=1e-6)
    quarter = attacks.rotate(x, torch.tensor([90.0, 90.0, 90.0]))
    assert torch.allclose(quarter, torch.rot90(x, 1, dims=(2, 3)), atol=1e-5)


def test_eot_raises_the_expected_loss_over_rotations(cnn, batch):
    """EOT maximises E_angle L(rotate(x', angle), y); plain PGD maximises L(x', y) at angle 0 only."""
    x, y = batch[0][:40], batch[1][:40]
    g = torch.Generator().manual_seed(0)
    plain = attacks.pgd(cnn, x, y, 0.1, 0.01, 20, random_start=False)
    eot = attacks.eot_pgd(cnn, x, y, 0.1, 0.01, 20, max_angle=20, samples=8, generator=g)
    assert (eot - x).abs().max() <= 0.1 + 1e-6 and eot.min() >= 0 and eot.max() <= 1
    angles = 20 * (2 * torch.rand(16, generator=g) - 1)

    @torch.no_grad()
    def expected_loss(adv):
        return sum(F.cross_entropy(cnn(attacks.rotate(adv, a)), y) for a in angles).item() / len(angles)

    assert expected_loss(eot) > expected_loss(plain) * 1.1


def test_transfer_between_independent_models(cnn, batch):
    x, y = batch
    config.seed_everything(1)
    other = classifiers.MLP(64, (64,))
    classifiers.train(other, _digits(), 15, device="cpu", lr=3e-3, progress=False)
    src, tgt = attacks.transfer_accuracy(lambda m, a, b: attacks.fgsm(m, a, b, 0.2), cnn, other, x, y)
    clean = classifiers.accuracy(other, x, y)
    assert src < tgt < clean - 0.1  # transfers, but weaker than white-box


# ----------------------------------------------------------------------------------------------
# contracts: mode restored, no parameter gradients, device


class _DropoutNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))

    def forward(self, x):
        return self.body(x)


_ALL = {
    "fgsm": lambda m, x, y: attacks.fgsm(m, x, y, 0.1),
    "pgd": lambda m, x, y: attacks.pgd(m, x, y, 0.1, 0.02, 3, generator=torch.Generator().manual_seed(0)),
    "deepfool": lambda m, x, y: attacks.deepfool(m, x, y, max_iter=3),
    "cw_l2": lambda m, x, y: attacks.cw_l2(m, x, y, steps=5, binary_search_steps=2),
    "jsma": lambda m, x, y: attacks.jsma(m, x, (y + 1) % 10, gamma=0.1),
    "eot_pgd": lambda m, x, y: attacks.eot_pgd(m, x, y, 0.1, 0.02, 2, generator=torch.Generator().manual_seed(0)),
}


@pytest.mark.parametrize("name", sorted(_ALL))
def test_attacks_use_eval_mode_restore_it_and_leave_parameter_grads_alone(name):
    torch.manual_seed(0)
    net = _DropoutNet().train()
    x, y = torch.rand(6, 1, 8, 8), torch.randint(0, 10, (6,))
    first = _ALL[name](net, x, y)
    second = _ALL[name](net, x, y)
    assert net.training, f"{name} did not restore training mode"
    assert torch.equal(first, second), f"{name} ran with dropout active (not in eval mode)"
    assert all(p.grad is None for p in net.parameters()), f"{name} wrote parameter gradients"
    assert first.shape == x.shape and first.min() >= 0 and first.max() <= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(_ALL))
def test_attacks_run_on_cuda(name):
    net = _DropoutNet().cuda()
    x, y = torch.rand(4, 1, 8, 8), torch.randint(0, 10, (4,))
    out = _ALL[name](net, x.cuda(), y.cuda()) if name in ("pgd", "eot_pgd") else _ALL[name](net, x, y)
    assert out.device.type == "cuda"


# ----------------------------------------------------------------------------------------------
# defenses


def test_fgsm_training_loss_is_the_slides_alpha_mix(cnn, batch):
    x, y = batch[0][:32], batch[1][:32]
    adv = torchattacks.FGSM(cnn, eps=0.1)(x, y)
    expected = 0.3 * F.cross_entropy(cnn(x), y) + 0.7 * F.cross_entropy(cnn(adv), y)
    got = defenses.fgsm_training_loss(cnn, x, y, eps=0.1, alpha=0.3)
    assert torch.allclose(got, expected, atol=1e-6)


def test_pgd_training_loss_is_the_loss_at_the_pgd_point(cnn, batch):
    x, y = batch[0][:32], batch[1][:32]
    got = defenses.pgd_training_loss(cnn, x, y, eps=0.1, steps=5, generator=torch.Generator().manual_seed(3))
    adv = attacks.pgd(cnn, x, y, 0.1, 0.05, 5, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(got, F.cross_entropy(cnn(adv), y), atol=1e-6)
    assert got > F.cross_entropy(cnn(x), y)


def test_input_gradient_penalty_equals_per_example_autograd(batch):
    torch.manual_seed(0)
    net = classifiers.MLP(64, (16,)).double()
    x, y = batch[0][:5].double(), batch[1][:5]
    penalty = 0.0
    for i in range(5):
        xi = x[i:i + 1].clone().requires_grad_(True)
        g, = torch.autograd.grad(F.cross_entropy(net(xi), y[i:i + 1]), xi)
        penalty += g.pow(2).sum() / 5
    expected = F.cross_entropy(net(x), y) + 2.0 * penalty
    got = defenses.input_gradient_loss(net, x, y, lam=2.0)
    assert torch.allclose(got, expected, rtol=1e-10)
    got.backward()            # double backpropagation reaches the parameters through the penalty
    assert net.hidden[0].weight.grad is not None and net.hidden[0].weight.grad.abs().sum() > 0


def test_robust_accuracy_curve_starts_at_clean_accuracy_and_falls(cnn, batch):
    x, y = batch
    curve = defenses.robust_accuracy_curve(cnn, x, y, [0.0, 0.1, 0.3], attack="pgd", steps=10,
                                           generator=torch.Generator().manual_seed(0))
    assert curve[0] == pytest.approx(classifiers.accuracy(cnn, x, y))
    assert curve[0] > curve[1] > curve[2] and curve[2] < 0.1


def test_pgd_adversarial_training_improves_robust_accuracy():
    d = _digits().subset(n_train=600, seed=0)
    config.seed_everything(0)
    std, rob = classifiers.SmallCNN(8), classifiers.SmallCNN(8)
    defenses.adversarial_train(std, d, 6, method="standard", progress=False)
    config.seed_everything(0)
    defenses.adversarial_train(rob, d, 6, method="pgd", eps=0.1, steps=3, progress=False)
    x, y = d.x_test[:150], d.y_test[:150]
    g = torch.Generator().manual_seed(0)
    acc = [defenses.robust_accuracy_curve(m, x, y, [0.1], steps=10, generator=g)[0] for m in (std, rob)]
    assert acc[1] > acc[0] + 0.1, acc


# ----------------------------------------------------------------------------------------------
# messages for bad student output


def test_check_adversarial_names_shape_range_and_budget():
    x = torch.full((2, 1, 4, 4), 0.5)
    with pytest.raises(GradingError, match=r"wrong shape: expected \(2, 1, 4, 4\), got \(2, 16\)"):
        check_adversarial(x.flatten(1), x, eps=0.1, name="fgsm")
    bad = x.clone()
    bad[0, 0, 0, 0] = 1.25
    with pytest.raises(GradingError, match=r"leaves the image range \[0, 1\]: 1 pixel\(s\) outside.*out by up to 0.25"):
        check_adversarial(bad, x, name="fgsm")
    far = x + 0.3
    with pytest.raises(GradingError, match=r"exceeds the budget: \|\|x_adv - x\|\|_inf = 0.3 > eps = 0.1 \(by 0.2"):
        check_adversarial(far, x, eps=0.1, name="pgd")
    with pytest.raises(GradingError, match="expected a torch.Tensor"):
        check_adversarial(x.numpy(), x, name="pgd")
    assert torch.equal(check_adversarial(x + 0.05, x, eps=0.1), x + 0.05)
