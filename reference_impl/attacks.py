"""Adversarial attacks on image classifiers: pure functions over a model and images in [0, 1].

Notation: N batch, C channels, H, W height and width, K classes, D = C*H*W input dimension.
Every attack takes ``model`` (returning logits (N, K)), images ``x`` of shape (N, C, H, W) in [0, 1] and
labels ``y`` of shape (N,) (the true labels, or the target labels when ``targeted=True``), and returns
adversarial images of shape (N, C, H, W) in [0, 1] on the model's device. Like torchattacks:

* the model is put in eval mode for the attack and its mode is restored afterwards;
* gradients are taken only with respect to the input, with ``torch.autograd.grad`` on a detached copy,
  so parameter ``.grad`` fields are never touched;
* the loss is the mean cross-entropy; targeted attacks *descend* the loss of the target label.

Attacks (slide "ADVERSARIAL EXAMPLES", deck 000):

    fgsm                 Goodfellow, Shlens, Szegedy 2014     x + eps * sign(grad_x L(x, y))
    pgd / bim            Madry et al. 2017 / Kurakin et al. 2016: iterated FGSM steps, each followed by
                         projection onto the L-inf ball of radius eps around x and onto [0, 1]
    deepfool             Moosavi-Dezfooli, Fawzi, Frossard 2016: step to the nearest linearised class boundary
    cw_l2                Carlini, Wagner 2017: min ||d||_2^2 + c f(x + d) in tanh space, binary search on c
    jsma                 Papernot et al. 2016: saliency map over pixel pairs, L0 attack
    universal_perturbation  Moosavi-Dezfooli et al. 2017: one v with ||v||_inf <= eps for a whole data set
    eot_pgd              Athalye et al. 2018 (expectation over transformation): PGD on the loss averaged
                         over random rotations, so the example survives rotation
    transfer_accuracy    Kurakin et al. 2016 / Papernot et al. 2017: black box, craft on one model, test on another
"""
import contextlib
import math

import torch
import torch.nn.functional as F

__all__ = ["fgsm", "pgd", "bim", "deepfool", "cw_l2", "jsma", "universal_perturbation", "rotate",
           "eot_pgd", "transfer_accuracy", "input_gradient", "model_device"]


# ----------------------------------------------------------------------------------------------
# plumbing


@contextlib.contextmanager
def eval_mode(model):
    """Put ``model`` in eval mode inside the block; restore its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def model_device(model) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _prepare(model, x, y=None):
    dev = model_device(model)
    x = x.detach().to(dev)
    return (x, None) if y is None else (x, y.detach().to(dev))


def input_gradient(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of the mean cross-entropy of ``model(x)`` against ``y`` with respect to ``x`` only.

    Inputs:
        x: (N, C, H, W); y: (N,) class indices.
    Returns:
        (N, C, H, W), detached. Parameter ``.grad`` fields are left as they were.
    """
    x = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    return torch.autograd.grad(loss, x)[0].detach()


# ----------------------------------------------------------------------------------------------
# L-inf attacks: FGSM, BIM / PGD


def fgsm(model, x: torch.Tensor, y: torch.Tensor, eps: float, targeted: bool = False) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow, Shlens, Szegedy 2014, "Explaining and Harnessing
    Adversarial Examples"): one step of size ``eps`` along the sign of the input gradient.

        untargeted: x' = clip_[0,1](x + eps * sign(grad_x L(x, y)))          (raise the loss of y)
        targeted:   x' = clip_[0,1](x - eps * sign(grad_x L(x, t)))          (lower the loss of target t)

    Inputs:
        model: classifier returning logits (N, K).
        x: (N, C, H, W) images in [0, 1].
        y: (N,) true labels, or target labels when ``targeted``.
        eps: L-inf budget.
    Returns:
        (N, C, H, W) adversarial images with ||x' - x||_inf <= eps, in [0, 1].
    """
    x, y = _prepare(model, x, y)
    with eval_mode(model):
        grad = input_gradient(model, x, y)
    step = -eps * grad.sign() if targeted else eps * grad.sign()
    return torch.clamp(x + step, 0.0, 1.0).detach()


def pgd(model, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int,
        random_start: bool = True, targeted: bool = False, generator=None) -> torch.Tensor:
    """Projected gradient descent in the L-inf ball (Madry et al. 2017, "Towards Deep Learning Models
    Resistant to Adversarial Attacks"); without the random start it is the basic iterative method
    (Kurakin, Goodfellow, Bengio 2016).

        x^0     = x (+ U(-eps, eps)^D, clipped to [0, 1], if random_start)
        x^{t+1} = Proj(x^t + alpha * sign(grad_x L(x^t, y)))       (minus sign and target labels if targeted)
        Proj(z) = clip_[0,1](x + clip_[-eps,eps](z - x))

    Inputs:
        x: (N, C, H, W) in [0, 1]; y: (N,) true (or target) labels.
        eps: L-inf radius; alpha: step size; steps: number of gradient steps.
        generator: a ``torch.Generator`` for the random start (on the model's device), for repeatable runs.
    Returns:
        (N, C, H, W) adversarial images, ||x' - x||_inf <= eps, in [0, 1].
    """
    x, y = _prepare(model, x, y)
    x_adv = x.clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_adv = torch.clamp(x_adv + (2 * noise - 1) * eps, 0.0, 1.0)
    with eval_mode(model):
        for _ in range(steps):
            grad = input_gradient(model, x_adv, y)
            x_adv = x_adv + (-alpha if targeted else alpha) * grad.sign()
            delta = torch.clamp(x_adv - x, -eps, eps)
            x_adv = torch.clamp(x + delta, 0.0, 1.0).detach()
    return x_adv


def bim(model, x, y, eps: float, alpha: float, steps: int, targeted: bool = False) -> torch.Tensor:
    """Basic iterative method (Kurakin, Goodfellow, Bengio 2016): :func:`pgd` without the random start.

    Shapes as in :func:`pgd`.
    """
    return pgd(model, x, y, eps, alpha, steps, random_start=False, targeted=targeted)


# ----------------------------------------------------------------------------------------------
# DeepFool


def _jacobian_rows(model, x, classes):
    """Logits (N, K) and gradients of the chosen class logits w.r.t. x: (len(classes), N, C, H, W).

    The model treats examples independently (eval mode), so the gradient of sum_n logit_k(x_n)
    with respect to x_n is the gradient of logit_k(x_n): one backward pass per class for the batch.
    """
    x = x.detach().clone().requires_grad_(True)
    logits = model(x)
    grads = [torch.autograd.grad(logits[:, k].sum(), x, retain_graph=True)[0] for k in classes]
    return logits.detach(), torch.stack(grads)


def deepfool(model, x: torch.Tensor, y: torch.Tensor = None, overshoot: float = 0.02,
             max_iter: int = 50, num_classes: int = None) -> torch.Tensor:
    """DeepFool (Moosavi-Dezfooli, Fawzi, Frossard 2016, "DeepFool: a simple and accurate method to fool
    deep neural networks"), multi-class, L2.

    At x_i, linearise every class margin f'_k = f_k - f_y with gradient w'_k = grad f_k - grad f_y, pick
    the nearest boundary l = argmin_{k != y} |f'_k| / ||w'_k||_2 and step onto it:

        r_i = (|f'_l| / ||w'_l||_2 + 1e-4) * w'_l / ||w'_l||_2         (the slide's z = f / ||w||^2 * w)
        x_{i+1} = clip_[0,1](x + (1 + overshoot) * sum_{j<=i} r_j)

    until the label changes or ``max_iter`` steps (the original code's 1e-4 and overshoot included).

    Inputs:
        x: (N, C, H, W) in [0, 1].
        y: (N,) labels to move away from; default the model's own predictions.
        overshoot: the final perturbation is (1 + overshoot) times the accumulated steps.
        num_classes: consider only the ``num_classes`` classes with the largest clean logits (the
            paper's shortcut for ImageNet); default all K.
    Returns:
        (N, C, H, W) adversarial images in [0, 1] (the clean image for an example already misclassified).
    """
    x, y = _prepare(model, x, y)
    with eval_mode(model):
        with torch.no_grad():
            logits0 = model(x)
        if y is None:
            y = logits0.argmax(1)
        n, k_all = logits0.shape
        k = k_all if num_classes is None else min(num_classes, k_all)
        # candidate classes per example: the k largest clean logits (all classes when k = K)
        cand = logits0.argsort(dim=1, descending=True)[:, :k]                  # (N, k)
        allowed_all = torch.zeros(n, k_all, dtype=torch.bool, device=x.device).scatter_(1, cand, True)
        r_tot = torch.zeros_like(x)
        x_adv = x.clone()
        todo = torch.arange(n, device=x.device)                               # examples not fooled yet
        for _ in range(max_iter):
            logits, jac = _jacobian_rows(model, x_adv[todo], range(k_all))    # (M, K), (K, M, C, H, W)
            yt = y[todo]
            still = logits.argmax(1) == yt
            todo, logits, jac, yt = todo[still], logits[still], jac[:, still], yt[still]
            if len(todo) == 0:
                break
            rows = torch.arange(len(todo), device=x.device)
            jac = jac.transpose(0, 1).flatten(2)                              # (M, K, D)
            w = jac - jac[rows, yt].unsqueeze(1)                              # (M, K, D)
            f = logits - logits[rows, yt].unsqueeze(1)                        # (M, K)
            w_norm = w.norm(dim=2)                                            # (M, K)
            dist = f.abs() / (w_norm + 1e-12)
            allowed = allowed_all[todo].clone()
            allowed[rows, yt] = False
            dist = dist.masked_fill(~allowed, float("inf"))
            nearest = dist.argmin(1)                                          # (M,)
            w_l, n_l = w[rows, nearest], w_norm[rows, nearest].unsqueeze(1)   # (M, D), (M, 1)
            r = (dist[rows, nearest].unsqueeze(1) + 1e-4) * w_l / (n_l + 1e-12)
            r_tot[todo] = r_tot[todo] + r.view((len(todo),) + x.shape[1:])
            x_adv[todo] = torch.clamp(x[todo] + (1 + overshoot) * r_tot[todo], 0.0, 1.0)
    return x_adv


# ----------------------------------------------------------------------------------------------
# Carlini-Wagner L2


def _cw_margin(logits, y, kappa, targeted):
    """f of Carlini-Wagner: max(Z_y - max_{j != y} Z_j, -kappa) untargeted (y the true label),
    max(max_{j != t} Z_j - Z_t, -kappa) targeted (y = t). Shapes: logits (N, K), y (N,) -> (N,)."""
    onehot = F.one_hot(y, logits.shape[1]).bool()
    real = logits[onehot]
    other = logits.masked_fill(onehot, float("-inf")).max(1).values
    margin = other - real if targeted else real - other
    return torch.clamp(margin, min=-kappa)


def cw_l2(model, x: torch.Tensor, y: torch.Tensor, c: float = 1.0, kappa: float = 0.0, steps: int = 100,
          lr: float = 0.01, binary_search_steps: int = 9, targeted: bool = False,
          abort_early: bool = True) -> torch.Tensor:
    """Carlini-Wagner L2 attack (Carlini, Wagner 2017, "Towards Evaluating the Robustness of Neural
    Networks").

    Change of variables x' = (tanh(w) + 1) / 2 keeps x' in [0, 1] without clipping; for each example
    minimise with Adam

        ||x' - x||_2^2 + c * f(x'),   f(x') = max(Z(x')_y - max_{j != y} Z(x')_j, -kappa)

    (targeted: f = max(max_{j != t} Z_j - Z_t, -kappa)), starting from w = atanh(2x - 1) (pixels
    at 0 or 1 shrunk by 1e-6 as in the paper's code). A binary search on c per example follows each
    run: success -> c shrinks towards the last failure, failure -> c grows (x10 until one succeeds).
    The smallest successful perturbation over all runs is kept.

    Inputs:
        x: (N, C, H, W) in [0, 1]; y: (N,) true (or target) labels.
        c: initial trade-off constant; kappa: confidence margin; steps: Adam steps per value of c.
        binary_search_steps: values of c tried (1 = a single run at ``c``, as torchattacks.CW).
        abort_early: stop a run when the total loss has not decreased over a tenth of the steps.
    Returns:
        (N, C, H, W): the best adversarial image per example, or the clean image where none was found.
    """
    x, y = _prepare(model, x, y)
    n = x.shape[0]
    shape1 = (n,) + (1,) * (x.dim() - 1)
    w0 = torch.atanh((2 * x - 1) * (1 - 1e-6))
    lower = torch.zeros(n, device=x.device, dtype=x.dtype)
    upper = torch.full((n,), 1e10, device=x.device, dtype=x.dtype)
    const = torch.full((n,), float(c), device=x.device, dtype=x.dtype)
    best_l2 = torch.full((n,), float("inf"), device=x.device, dtype=x.dtype)
    best_adv = x.clone()
    with eval_mode(model):
        for _ in range(binary_search_steps):
            w = w0.clone().requires_grad_(True)
            optimizer = torch.optim.Adam([w], lr=lr)
            success = torch.zeros(n, dtype=torch.bool, device=x.device)
            prev = float("inf")
            for step in range(steps):
                x_new = (torch.tanh(w) + 1) / 2
                l2 = (x_new - x).flatten(1).pow(2).sum(1)                      # (N,)
                logits = model(x_new)
                loss = (l2 + const * _cw_margin(logits, y, kappa, targeted)).sum()
                grad = torch.autograd.grad(loss, w)[0]
                with torch.no_grad():
                    pred = logits.argmax(1)
                    fooled = pred == y if targeted else pred != y
                    improved = fooled & (l2 < best_l2)
                    best_l2 = torch.where(improved, l2, best_l2)
                    best_adv = torch.where(improved.view(shape1), x_new, best_adv)
                    success |= fooled
                w.grad = grad
                optimizer.step()
                if abort_early and step % max(steps // 10, 1) == 0:
                    if loss.item() > prev * 0.9999:
                        break
                    prev = loss.item()
            with torch.no_grad():
                upper = torch.where(success, torch.minimum(upper, const), upper)
                lower = torch.where(success, lower, torch.maximum(lower, const))
                found = upper < 1e9
                const = torch.where(found, (lower + upper) / 2, const * 10)
    return best_adv.detach()


# ----------------------------------------------------------------------------------------------
# JSMA


def jsma(model, x: torch.Tensor, target: torch.Tensor, theta: float = 1.0, gamma: float = 0.1) -> torch.Tensor:
    """Jacobian-based saliency map attack (Papernot et al. 2016, "The Limitations of Deep Learning in
    Adversarial Settings"), the increasing-features variant on pixel pairs.

    At each step, with alpha_pq = sum_{i in {p,q}} dZ_t/dx_i and beta_pq = sum_{i in {p,q}} sum_{j != t} dZ_j/dx_i
    over logits Z, pick the pair of still-modifiable pixels maximising alpha * |beta| subject to
    alpha > 0, beta < 0, add ``theta`` to both (clipped to [0, 1]) and remove pixels that reached the
    bound from the search domain; stop when the prediction is the target or after modifying a fraction
    ``gamma`` of the D pixels.

    Inputs:
        x: (N, C, H, W) in [0, 1]; target: (N,) target labels.
        theta: change per selected pixel (+1 sets it to white); gamma: largest fraction of pixels changed.
    Returns:
        (N, C, H, W) adversarial images in [0, 1].
    """
    x, target = _prepare(model, x, target)
    n = x.shape[0]
    d = x[0].numel()
    max_iter = int(math.ceil(d * gamma / 2))
    x_adv = x.clone().flatten(1)                                              # (N, D)
    domain = x_adv < 1.0 if theta > 0 else x_adv > 0.0                       # (N, D)
    rows = torch.arange(n, device=x.device)
    eye = torch.eye(d, dtype=torch.bool, device=x.device)
    with eval_mode(model):
        for _ in range(max_iter):
            xv = x_adv.detach().clone().requires_grad_(True)
            logits = model(xv.view_as(x))
            active = (logits.argmax(1) != target) & (domain.sum(1) >= 2)
            if not active.any():
                break
            grad_t = torch.autograd.grad(logits[rows, target].sum(), xv, retain_graph=True)[0]   # (N, D)
            grad_all = torch.autograd.grad(logits.sum(), xv)[0]
            grad_o = grad_all - grad_t                                        # sum over j != t
            a = grad_t.unsqueeze(2) + grad_t.unsqueeze(1)                     # (N, D, D)
            b = grad_o.unsqueeze(2) + grad_o.unsqueeze(1)
            if theta < 0:
                a, b = -a, -b
            ok = (a > 0) & (b < 0) & domain.unsqueeze(2) & domain.unsqueeze(1) & ~eye
            score = torch.where(ok, a * b.abs(), torch.zeros_like(a)).flatten(1)   # (N, D*D)
            best = score.argmax(1)
            has = score[rows, best] > 0
            p, q = best // d, best % d
            upd = (active & has).to(x.dtype)
            for idx in (p, q):
                new = torch.clamp(x_adv[rows, idx] + theta * upd, 0.0, 1.0)
                x_adv[rows, idx] = new
                domain[rows, idx] = domain[rows, idx] & ~(active & has)
            # examples without a valid pair have nothing left to try
            domain[active & ~has] = False
    return x_adv.view_as(x).detach()


# ----------------------------------------------------------------------------------------------
# universal perturbation


def universal_perturbation(model, x: torch.Tensor, eps: float, method: str = "deepfool", max_passes: int = 5,
                           delta: float = 0.2, overshoot: float = 0.02, max_iter: int = 20, batch_size: int = 32,
                           step: float = None, generator=None) -> torch.Tensor:
    """A universal adversarial perturbation: one v with ||v||_inf <= eps that changes the label of most
    images of a data set ("the direction matters, not the point").

    ``method="deepfool"`` (Moosavi-Dezfooli, Fawzi, Fawzi, Frossard 2017, "Universal adversarial
    perturbations"): pass over the data; for the images x_i whose label at x_i + v has not changed yet,
    take the DeepFool step dv_i from x_i + v and set v <- Proj_eps(v + sum_i dv_i). With ``batch_size=1``
    this is the paper's sequential algorithm; larger batches add a minibatch's steps at once. Stop when the
    fooling rate reaches 1 - ``delta`` or after ``max_passes`` passes.

    ``method="gradient"`` (the stochastic-gradient variant of Shafahi et al. 2020, "Universal
    Adversarial Training"): sign-gradient ascent on v of the mean cross-entropy over minibatches,
    v <- Proj_eps(v + step * sign(grad_v mean_i L(clip(x_i + v), y_i))), ``max_passes`` epochs.

    Inputs:
        x: (N, C, H, W) in [0, 1] (labels are the model's own predictions).
        step: gradient step (default eps / 10).
    Returns:
        v of shape (1, C, H, W) with ||v||_inf <= eps; apply as clip_[0,1](x + v).
    """
    from .classifiers import predict

    if method not in ("deepfool", "gradient"):
        raise ValueError(f"method must be 'deepfool' or 'gradient', got {method!r}")
    x, _ = _prepare(model, x)
    clean = predict(model, x)
    v = torch.zeros_like(x[:1])
    step = eps / 10 if step is None else step
    for _ in range(max_passes):
        order = torch.randperm(len(x), generator=generator).to(x.device)
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            if method == "gradient":
                with eval_mode(model):
                    vv = v.clone().requires_grad_(True)
                    loss = F.cross_entropy(model(torch.clamp(x[idx] + vv, 0.0, 1.0)), clean[idx])
                    grad = torch.autograd.grad(loss, vv)[0]
                v = torch.clamp(v + step * grad.sign(), -eps, eps).detach()
                continue
            xb = torch.clamp(x[idx] + v, 0.0, 1.0)
            still = predict(model, xb) == clean[idx]
            if not still.any():
                continue
            adv = deepfool(model, xb[still], clean[idx][still], overshoot=overshoot, max_iter=max_iter)
            v = torch.clamp(v + (adv - xb[still]).sum(0, keepdim=True), -eps, eps)
        fooling = (predict(model, torch.clamp(x + v, 0.0, 1.0)) != clean).float().mean().item()
        if fooling >= 1 - delta:
            break
    return v.detach()


# ----------------------------------------------------------------------------------------------
# robustness to transformations: expectation over random rotations


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image about its centre, bilinear, zero padding; differentiable in ``x``.

    Inputs:
        x: (N, C, H, W); degrees: (N,) angles (counter-clockwise), or a scalar for all.
    Returns:
        (N, C, H, W).
    """
    n = x.shape[0]
    degrees = torch.as_tensor(degrees, dtype=x.dtype, device=x.device).expand(n)
    t = degrees * math.pi / 180
    cos, sin, zero = torch.cos(t), torch.sin(t), torch.zeros_like(t)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def eot_pgd(model, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int,
            max_angle: float = 30.0, samples: int = 8, targeted: bool = False, generator=None) -> torch.Tensor:
    """PGD on the expected loss over random rotations (expectation over transformation, Athalye,
    Engstrom, Ilyas, Kwok 2018, "Synthesizing Robust Adversarial Examples"):

        max_{||x' - x||_inf <= eps}  E_{a ~ U(-max_angle, max_angle)} L(rotate(x', a), y)

    estimated with ``samples`` angles per example per step; the answer to the slide's "how do we make
    x' robust to rotations?".

    Inputs:
        x: (N, C, H, W) in [0, 1]; y: (N,) true (or target) labels.
    Returns:
        (N, C, H, W) in [0, 1] with ||x' - x||_inf <= eps.
    """
    x, y = _prepare(model, x, y)
    n = x.shape[0]
    x_adv = x.clone()
    with eval_mode(model):
        for _ in range(steps):
            xa = x_adv.detach().clone().requires_grad_(True)
            angles = (2 * torch.rand(samples * n, generator=generator) - 1).to(x.device) * max_angle
            rotated = rotate(xa.repeat(samples, 1, 1, 1), angles)             # (S*N, C, H, W)
            loss = F.cross_entropy(model(rotated), y.repeat(samples))
            grad = torch.autograd.grad(loss, xa)[0]
            x_adv = x_adv + (-alpha if targeted else alpha) * grad.sign()
            x_adv = torch.clamp(x + torch.clamp(x_adv - x, -eps, eps), 0.0, 1.0).detach()
    return x_adv


# ----------------------------------------------------------------------------------------------
# black-box transfer


def transfer_accuracy(attack, source_model, target_model, x: torch.Tensor, y: torch.Tensor) -> tuple:
    """Black-box transfer (Kurakin, Goodfellow, Bengio 2016; Papernot et al. 2017): craft adversarial
    examples with white-box access to ``source_model`` only, then classify them with ``target_model``.

    Inputs:
        attack: ``attack(model, x, y) -> x_adv``, e.g. ``lambda m, x, y: fgsm(m, x, y, 0.2)``.
        x: (N, C, H, W) in [0, 1]; y: (N,) true labels.
    Returns:
        ``(source accuracy, target accuracy)`` on the adversarial images, floats in [0, 1].
    """
    from .classifiers import accuracy

    x_adv = attack(source_model, x, y)
    return accuracy(source_model, x_adv, y), accuracy(target_model, x_adv, y)
