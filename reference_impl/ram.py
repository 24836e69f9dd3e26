"""The Recurrent Attention Model (Mnih, Heess, Graves, Kavukcuoglu, 2014, "Recurrent Models of Visual
Attention", NIPS) trained with REINFORCE (Williams, 1992) and a learned baseline.

Notation: N batch, T glimpses, H core size, K classes, P patch side, k retina scales.

    g_t = f_g(x, l_{t-1})  = ReLU(W_g ReLU(W_hg rho(x, l_{t-1})) + W_l ReLU(W_hl l_{t-1}))   glimpse network
    h_t = f_h(h_{t-1}, g_t) = ReLU(W_hh h_{t-1} + W_gh g_t)                                  core (RNN)
    l_t ~ N(mu_t, sigma^2 I),  mu_t = tanh(W_mu h_t)                                          location policy
    a   = f_a(h_T) = W_a h_T  (logits)                                                        action network
    b_t = W_b h_t                                                                             baseline

rho is :func:`reference_impl.glimpse.glimpse`, its values multiplied by ``input_scale`` (input
standardization: mostly-black canvases have pixel std ~0.25, and unscaled inputs train several times
slower; the baselines get the same factor). The first glimpse looks at the centre, l_0 = (0, 0);
the policy then chooses l_1 .. l_{T-1}, so an episode has T - 1 stochastic decisions. The reward is
R = 1 if argmax a = y else 0, given at the end (so the return from every step is R).

Hybrid loss (the paper's "hybrid supervised loss", section 3):

    L = CE(a, y)                                                  trains f_a, f_h, f_g
      - (1/N) sum_n sum_t log pi(l_t^n | h_t^n) (R^n - b_t^n)     REINFORCE, (R - b) held constant
      + (1/(N (T-1))) sum_n sum_t (b_t^n - R^n)^2                 trains the baseline only

The location and baseline networks read h_t.detach(): the core is shaped by the classification
loss, the policy by REINFORCE, the baseline by its regression, as in the common reimplementations.
REINFORCE's estimate is unbiased for any baseline that does not depend on the sampled l_t; the
baseline only lowers its variance.

    gaussian_log_prob(l, mu, sigma)            -> (...)    log N(l; mu, sigma^2 I), summed over (x, y)
    reinforce_loss(log_pi, reward, baseline)   -> (policy loss, baseline loss)
    hybrid_loss(out, y)                        -> (total, parts)
    RAM(RAMConfig)                             -> RAMOutput(logits, log_pi, baseline, locations, means)
    train_ram(model, split, ...)               -> history
"""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .canvas_classifiers import accuracy, fit
from .glimpse import glimpse

__all__ = ["gaussian_log_prob", "reinforce_loss", "hybrid_loss", "RAMConfig", "RAMOutput", "GlimpseNetwork",
           "LocationNetwork", "RAM", "train_ram", "evaluate_ram", "ram_predict"]


# ----------------------------------------------------------------------------------------------
# the math


def gaussian_log_prob(l: torch.Tensor, mu: torch.Tensor, sigma) -> torch.Tensor:
    """Log-density of an isotropic Gaussian, summed over the last dimension (the (x, y) pair):

        log pi(l) = sum_d [ -(l_d - mu_d)^2 / (2 sigma^2) - log sigma - log(2 pi) / 2 ]

    The -log sigma term does not depend on l or mu but does on sigma: without it, a learned sigma
    gets a biased gradient.

    Inputs:
        l: (..., 2) sampled locations (treated as constants by callers: pass ``l.detach()``).
        mu: (..., 2) means.
        sigma: positive float or tensor broadcastable to ``mu``.
    Returns:
        tensor of shape (...), differentiable in ``mu`` and ``sigma``.
    """
    sigma = torch.as_tensor(sigma, dtype=mu.dtype, device=mu.device)
    z = (l - mu) / sigma
    return (-0.5 * z ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(-1)


def reinforce_loss(log_pi: torch.Tensor, reward: torch.Tensor, baseline: torch.Tensor):
    """REINFORCE with a learned baseline, as two losses to minimize.

        policy   = -(1/N) sum_n sum_t log_pi[n, t] * (reward[n] - baseline[n, t])    (advantage detached)
        baseline = mean over n, t of (baseline[n, t] - reward[n])^2

    Inputs:
        log_pi: (N, T) log-probabilities of the sampled actions (differentiable).
        reward: (N,) episode return (no gradient).
        baseline: (N, T) predicted returns (differentiable).
    Returns:
        (policy_loss, baseline_loss): scalars. ``policy_loss`` has no gradient into ``baseline``
        and ``baseline_loss`` none into ``log_pi``.
    """
    reward = reward.detach().to(log_pi.dtype)[:, None]  # (N, 1)
    advantage = (reward - baseline).detach()  # (N, T)
    policy = -(log_pi * advantage).sum(1).mean()
    base = ((baseline - reward) ** 2).mean()
    return policy, base


# ----------------------------------------------------------------------------------------------
# the model


@dataclass
class RAMConfig:
    patch_size: int = 8  # P, side of the finest retina patch
    n_scales: int = 2  # k patches of side P, 2P, 4P, ...
    scale: int = 2  # factor between successive patch sides
    n_glimpses: int = 6  # T
    glimpse_hidden: int = 128  # size of the "what" and "where" layers h_g, h_l
    glimpse_size: int = 256  # size of g_t
    hidden: int = 256  # H, core size
    n_classes: int = 10  # K
    channels: int = 1
    std: float = 0.15  # sigma of the location policy (initial value when learned)
    learn_std: bool = False
    random_glimpses: bool = False  # ablation: locations uniform in [-1, 1]^2, no policy
    input_scale: float = 4.0  # retina values are multiplied by this (~1 / pixel std of the canvases)
    core: str = "rnn"  # "rnn": the paper's ReLU core for classification; "lstm": its core for games


@dataclass
class RAMOutput:
    logits: torch.Tensor  # (N, K) action network on h_T
    log_pi: torch.Tensor  # (N, T - 1) log-probabilities of the sampled locations l_1 .. l_{T-1}
    baseline: torch.Tensor  # (N, T - 1) b_t = W_b h_t for t = 1 .. T - 1
    locations: torch.Tensor  # (N, T, 2) where each glimpse looked, (x, y) in [-1, 1]
    means: torch.Tensor  # (N, T - 1, 2) policy means mu_1 .. mu_{T-1}


class GlimpseNetwork(nn.Module):
    """f_g: retina, "what" and "where" pathways, combined.

    Inputs:
        images: (N, C, S, S); l: (N, 2) in [-1, 1].
    Returns:
        g of shape (N, glimpse_size).
    """

    def __init__(self, cfg: RAMConfig, sensor=glimpse):
        super().__init__()
        self.cfg, self.sensor = cfg, sensor
        retina = cfg.n_scales * cfg.channels * cfg.patch_size ** 2
        self.what = nn.Linear(retina, cfg.glimpse_hidden)
        self.where = nn.Linear(2, cfg.glimpse_hidden)
        self.what_out = nn.Linear(cfg.glimpse_hidden, cfg.glimpse_size)
        self.where_out = nn.Linear(cfg.glimpse_hidden, cfg.glimpse_size)

    def forward(self, images, l):
        c = self.cfg
        rho = self.sensor(images, l, c.patch_size, c.n_scales, c.scale).flatten(1)  # (N, k C P P)
        rho = rho * c.input_scale
        h_g = F.relu(self.what(rho))
        h_l = F.relu(self.where(l))
        return F.relu(self.what_out(h_g) + self.where_out(h_l))


class LocationNetwork(nn.Module):
    """f_l: the Gaussian location policy l ~ N(tanh(W h), sigma^2 I), sigma fixed or learned.

    Inputs:
        h: (N, H) core state (the caller passes it detached).
    Returns:
        mu (N, 2) and sigma (a 0-d tensor).
    """

    def __init__(self, hidden: int, std: float, learn_std: bool):
        super().__init__()
        self.fc = nn.Linear(hidden, 2)
        log_std = torch.tensor(math.log(std))
        if learn_std:
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)

    def forward(self, h):
        return torch.tanh(self.fc(h)), self.log_std.exp()


class RAM(nn.Module):
    """The Recurrent Attention Model for classification (one action at the last glimpse).

    Inputs (forward):
        images: (N, C, S, S) in [0, 1].
        sample: draw l_t ~ N(mu_t, sigma^2) (training) or use l_t = mu_t (evaluation).
        generator: optional torch.Generator for the location noise (and the random glimpses).
    Returns:
        :class:`RAMOutput`.
    """

    def __init__(self, cfg: RAMConfig = None, sensor=glimpse, log_prob=gaussian_log_prob):
        super().__init__()
        self.cfg = cfg = cfg or RAMConfig()
        self.log_prob = log_prob
        self.glimpse_net = GlimpseNetwork(cfg, sensor)
        if cfg.core not in ("rnn", "lstm"):
            raise ValueError(f"core must be 'rnn' or 'lstm', got {cfg.core!r}")
        self.core = (nn.RNNCell(cfg.glimpse_size, cfg.hidden, nonlinearity="relu") if cfg.core == "rnn"
                     else nn.LSTMCell(cfg.glimpse_size, cfg.hidden))
        self.location_net = LocationNetwork(cfg.hidden, cfg.std, cfg.learn_std)
        self.action_net = nn.Linear(cfg.hidden, cfg.n_classes)
        self.baseline_net = nn.Linear(cfg.hidden, 1)

    def forward(self, images, sample=True, generator=None) -> RAMOutput:
        N, T = images.shape[0], self.cfg.n_glimpses
        dev, dtype = images.device, images.dtype

        def uniform():
            return torch.rand(N, 2, generator=generator, device=dev, dtype=dtype) * 2 - 1

        l = uniform() if self.cfg.random_glimpses else images.new_zeros(N, 2)  # l_0
        h = images.new_zeros(N, self.cfg.hidden)
        state = None if self.cfg.core == "lstm" else h
        locs, log_pi, base, means = [l], [], [], []
        for t in range(T):
            state = self.core(self.glimpse_net(images, l), state)  # h_{t+1} from the glimpse at l_t
            h = state[0] if isinstance(state, tuple) else state
            if t == T - 1:
                break
            if self.cfg.random_glimpses:
                l = uniform()
                mu = l
                log_pi.append(images.new_zeros(N))
            else:
                mu, sigma = self.location_net(h.detach())
                if sample:
                    noise = torch.randn(N, 2, generator=generator, device=dev, dtype=dtype)
                    l_raw = (mu + sigma * noise).detach()
                else:
                    l_raw = mu.detach()
                log_pi.append(self.log_prob(l_raw, mu, sigma))
                l = l_raw.clamp(-1, 1)
            base.append(self.baseline_net(h.detach()).squeeze(1))
            means.append(mu)
            locs.append(l)

        def stack(xs, shape):
            return torch.stack(xs, 1) if xs else images.new_zeros(shape)

        return RAMOutput(logits=self.action_net(h), log_pi=stack(log_pi, (N, 0)), baseline=stack(base, (N, 0)),
                         locations=torch.stack(locs, 1), means=stack(means, (N, 0, 2)))


def hybrid_loss(out: RAMOutput, y: torch.Tensor, reinforce=reinforce_loss, rl_weight: float = 1.0,
                reward: str = "correct"):
    """Cross-entropy of the last action + REINFORCE on the locations + the baseline's regression.

    Inputs:
        out: the model's :class:`RAMOutput` on a batch; y: (N,) labels.
        reward: ``"correct"``: R = 1 if argmax = y else 0 (Mnih et al., 2014); ``"log_likelihood"``:
            R = log p(y | l, x), the variational bound's estimator (Ba et al., 2015).
    Returns:
        (total loss, dict of the parts as floats plus ``reward`` = the batch's mean reward).
    """
    ce = F.cross_entropy(out.logits, y)
    if reward == "correct":
        reward = (out.logits.detach().argmax(1) == y).to(out.logits.dtype)  # (N,)
    elif reward == "log_likelihood":
        reward = -F.cross_entropy(out.logits.detach(), y, reduction="none")  # (N,) log p(y | l, x)
    else:
        raise ValueError(f"reward must be 'correct' or 'log_likelihood', got {reward!r}")
    if out.log_pi.shape[1] == 0:
        policy = base = out.logits.new_zeros(())
    else:
        policy, base = reinforce(out.log_pi, reward, out.baseline)
    total = ce + rl_weight * policy + base
    return total, dict(ce=ce.item(), policy=policy.item(), baseline=base.item(), reward=reward.mean().item())


# ----------------------------------------------------------------------------------------------
# training


def ram_predict(model, x):
    """Logits of the deterministic policy (l_t = mu_t): the evaluation rule used throughout."""
    return model(x, sample=False).logits


def evaluate_ram(model, x, y, device=None) -> float:
    """Accuracy on ``x`` (N, C, S, S), ``y`` (N,) with the mean locations."""
    return accuracy(model, x, y, predict=ram_predict, device=device)


def train_ram(model, split, epochs=10, batch_size=64, lr=1e-3, device=None, seed=0, progress=True,
              rl_weight=1.0, reinforce=reinforce_loss, reward="correct", max_cpu_seconds=None, desc="RAM",
              resample=None):
    """Train a :class:`RAM` with the hybrid loss by Adam (a thin call of
    :func:`reference_impl.canvas_classifiers.fit`).

    Returns:
        history dict (``loss``, ``train_acc`` per epoch, final ``test_acc`` with the mean policy,
        ``seconds``, ``cpu_seconds``); see :func:`~reference_impl.canvas_classifiers.fit`.
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)

    def loss_fn(m, x, y):
        out = m(x, sample=True, generator=g if x.device.type == "cpu" else None)
        loss, _ = hybrid_loss(out, y, reinforce=reinforce, rl_weight=rl_weight, reward=reward)
        return loss, out.logits

    return fit(model, split, loss_fn, epochs=epochs, batch_size=batch_size, lr=lr, device=device, seed=seed,
               predict=ram_predict, desc=desc, progress=progress, max_cpu_seconds=max_cpu_seconds,
               clip=5.0, resample=resample)
