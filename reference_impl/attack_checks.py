"""Checks for a student's adversarial images, with messages that say what is wrong and by how much.

    >>> from reference_impl.attack_checks import check_adversarial
    >>> check_adversarial(x_adv, x, eps=0.1, name="fgsm(model, x, y, eps=0.1)")

A failed check raises :class:`reference_impl.grading.GradingError` naming the problem: wrong type or
shape, NaN, pixels outside [0, 1] (how far and how many), or a perturbation larger than eps in the
L-inf norm (the largest |x_adv - x| and where).
"""
import torch

from .grading import HIDDEN_NOTE, GradingError, check_array, check_shape


def _raise(name, problem, hint=None):
    msg = f"{name}: {problem}\n"
    if hint:
        msg += f"  hint: {hint}\n"
    raise GradingError(msg + f"  {HIDDEN_NOTE}")


def check_adversarial(x_adv, x, eps=None, name="your attack", atol: float = 1e-6):
    """``x_adv`` must be a tensor shaped like ``x`` (N, C, H, W), finite, in [0, 1] and, when ``eps`` is
    given, within the L-inf ball of radius ``eps`` around ``x`` (up to ``atol``).

    Returns ``x_adv`` detached on ``x``'s device, so a test can go on using it.
    """
    check_array(x_adv, name, like=x)
    check_shape(x_adv, tuple(x.shape), name)
    x_adv = x_adv.detach().to(x.device)
    if not torch.isfinite(x_adv).all():
        _raise(name, f"{int((~torch.isfinite(x_adv)).sum())} pixel(s) are NaN or inf.",
               "a division by a zero norm? Add a small constant to denominators.")
    low, high = x_adv.min().item(), x_adv.max().item()
    if low < -atol or high > 1 + atol:
        outside = int(((x_adv < -atol) | (x_adv > 1 + atol)).sum())
        by = max(-low, high - 1)
        _raise(name, f"leaves the image range [0, 1]: {outside} pixel(s) outside, values from {low:.4g} to "
                     f"{high:.4g} (out by up to {by:.3g}).",
               "clamp the result: torch.clamp(x_adv, 0, 1).")
    if eps is not None:
        diff = (x_adv - x.detach()).abs()
        worst = diff.max().item()
        if worst > eps + atol:
            idx = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0])
            over = int((diff > eps + atol).sum())
            _raise(name, f"exceeds the budget: ||x_adv - x||_inf = {worst:.4g} > eps = {eps:g} (by {worst - eps:.3g}; "
                         f"{over} pixel(s) over, the worst at index {idx}).",
                   "project back onto the eps-ball: x + torch.clamp(x_adv - x, -eps, eps).")
    return x_adv

