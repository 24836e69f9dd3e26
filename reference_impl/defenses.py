"""Defenses against adversarial examples: training losses and robust-accuracy evaluation.

Notation: N batch, C, H, W image channels and size, K classes. Every loss has the signature of
:func:`reference_impl.classifiers.train`'s ``loss_fn(model, x, y) -> scalar`` with x (N, C, H, W) in
[0, 1] and y (N,), so a defense is ``train(model, data, epochs, loss_fn=partial(fgsm_training_loss, eps=0.1))``.

    fgsm_training_loss        Goodfellow, Shlens, Szegedy 2014 (the slide's objective):
                              L' = alpha L(x, y) + (1 - alpha) L(x + eps sign(grad_x L(x, y)), y)
    pgd_training_loss         Madry et al. 2017: L(x*, y), x* = PGD(x) the worst point of the eps-ball found
    input_gradient_loss       Drucker, LeCun 1992; Ross, Doshi-Velez 2018 ("double backpropagation"):
                              L(x, y) + lam * mean_n ||grad_{x_n} L(x_n, y_n)||_2^2
    robust_accuracy_curve     accuracy under an attack for each eps of a list
"""
from functools import partial

import torch
import torch.nn.functional as F

from . import attacks
from .classifiers import accuracy, train

__all__ = ["fgsm_training_loss", "pgd_training_loss", "input_gradient_loss", "adversarial_train",
           "robust_accuracy", "robust_accuracy_curve"]


def fgsm_training_loss(model, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float = 0.5) -> torch.Tensor:
    """The adversarial-training objective of Goodfellow et al. 2014 (slide "ADVERSARIAL EXAMPLES"):

        L'(theta, x, y) = alpha L(theta, x, y) + (1 - alpha) L(theta, clip_[0,1](x + eps sign(grad_x L(theta, x, y))), y)

    The adversarial example is computed with the current weights and then treated as a constant
    input (no gradient flows through its construction), as in the paper.

    Inputs:
        x: (N, C, H, W) in [0, 1]; y: (N,); eps: FGSM step; alpha: weight of the clean loss.
    Returns:
        a scalar tensor (differentiable in the model's parameters).
    """
    x_adv = attacks.fgsm(model, x, y, eps)
    return alpha * F.cross_entropy(model(x), y) + (1 - alpha) * F.cross_entropy(model(x_adv), y)


def pgd_training_loss(model, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float = None,
                      steps: int = 7, generator=None) -> torch.Tensor:
    """Madry et al. 2017: minimise the loss at the worst point of the eps-ball, found by PGD with a
    random start, min_theta E max_{||d||_inf <= eps} L(theta, x + d, y).

    Inputs:
        x: (N, C, H, W) in [0, 1]; y: (N,); eps: radius; alpha: PGD step (default 2.5 eps / steps);
        steps: PGD steps.
    Returns:
        a scalar tensor: the mean cross-entropy at the PGD examples.
    """
    alpha = 2.5 * eps / steps if alpha is None else alpha
    x_adv = attacks.pgd(model, x, y, eps, alpha, steps, random_start=True, generator=generator)
    return F.cross_entropy(model(x_adv), y)


def input_gradient_loss(model, x: torch.Tensor, y: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """Input-gradient regularisation (double backpropagation; Ross, Doshi-Velez 2018):

        L(x, y) + lam * (1/N) sum_n ||grad_{x_n} l(x_n, y_n)||_2^2,    l the per-example cross-entropy

    The input gradient is built with ``create_graph=True`` so the penalty is differentiated
    with respect to the parameters.

    Inputs:
        x: (N, C, H, W); y: (N,); lam: weight of the penalty.
    Returns:
        a scalar tensor.
    """
    x = x.detach().clone().requires_grad_(True)
    losses = F.cross_entropy(model(x), y, reduction="none")                  # (N,)
    grad = torch.autograd.grad(losses.sum(), x, create_graph=True)[0]        # (N, C, H, W), per example
    return losses.mean() + lam * grad.flatten(1).pow(2).sum(1).mean()


def adversarial_train(model, data, epochs: int, method: str = "pgd", eps: float = 0.1, device=None,
                      progress=True, **kwargs) -> dict:
    """Train ``model`` on ``data`` (an ImageSplit) with one of the defenses.

    Args:
        method: ``"standard"``, ``"fgsm"`` (kwargs: alpha), ``"pgd"`` (kwargs: steps, alpha) or
            ``"gradreg"`` (kwargs: lam; ``eps`` unused).
        other kwargs of :func:`reference_impl.classifiers.train` (lr, batch_size, seed) pass through.
    Returns:
        the history of :func:`reference_impl.classifiers.train`.
    """
    loss_kwargs = {k: kwargs.pop(k) for k in ("alpha", "steps", "lam") if k in kwargs}
    losses = {
        "standard": None,
        "fgsm": partial(fgsm_training_loss, eps=eps, **loss_kwargs),
        "pgd": partial(pgd_training_loss, eps=eps, **loss_kwargs),
        "gradreg": partial(input_gradient_loss, **loss_kwargs),
    }
    if method not in losses:
        raise ValueError(f"method must be one of {sorted(losses)}, got {method!r}")
    if losses[method] is not None:
        kwargs["loss_fn"] = losses[method]
    return train(model, data, epochs, device=device, progress=progress, desc=f"{method} training", **kwargs)


def robust_accuracy(model, x: torch.Tensor, y: torch.Tensor, attack, batch_size: int = 512) -> float:
    """Accuracy of ``model`` on ``attack(model, x, y)`` for x (N, C, H, W), y (N,), in batches."""
    correct = 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        correct += accuracy(model, attack(model, xb, yb), yb) * len(xb)
    return correct / len(x)


def robust_accuracy_curve(model, x: torch.Tensor, y: torch.Tensor, eps_values, attack: str = "pgd",
                          steps: int = 20, batch_size: int = 512, generator=None) -> list:
    """Accuracy under an L-inf attack for each eps in ``eps_values`` (eps = 0 is the clean accuracy).

    Args:
        attack: ``"fgsm"`` or ``"pgd"`` (``steps`` steps of size 2.5 eps / steps, random start).
    Returns:
        a list of floats, one per eps.
    """
    out = []
    for eps in eps_values:
        if eps == 0:
            out.append(accuracy(model, x, y))
            continue
        if attack == "fgsm":
            fn = partial(attacks.fgsm, eps=eps)
        elif attack == "pgd":
            fn = partial(attacks.pgd, eps=eps, alpha=2.5 * eps / steps, steps=steps, generator=generator)
        else:
            raise ValueError(f"attack must be 'fgsm' or 'pgd', got {attack!r}")
        out.append(robust_accuracy(model, x, y, fn, batch_size))
    return out
