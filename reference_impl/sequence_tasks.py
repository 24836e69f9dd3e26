"""Long-lag benchmark tasks for recurrent networks, generated (deterministic under a seed), and a small
trainer that knows nothing about the model.

* The adding problem (Hochreiter & Schmidhuber 1997, in the form of Le, Jaitly & Hinton 2015): each
  step carries a random value in [0, 1] and a marker; exactly two steps are marked, one in each half
  of the sequence; the target is the sum of the two marked values. Predicting the mean (1) scores
  MSE = Var(u1 + u2) = 1/6 ~ 0.167, the baseline a model must beat.
* A long-lag memory task (in the spirit of Hochreiter & Schmidhuber's "noise-free sequences with long
  time lags"): the first step shows one of K class symbols, the next T - 2 steps random distractor
  symbols, the last step a query symbol; the target is the class shown at t = 0. Chance is 1/K.

Letters: N sequences, T steps, D input features, K classes.
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .device import get_device

ADDING_BASELINE_MSE = 1.0 / 6.0


def _generator(seed):
    return torch.Generator().manual_seed(int(seed))


def adding_problem(n, T, seed=0, device=None, dtype=torch.float32):
    """``n`` sequences of the adding problem of length ``T``.

    Returns:
        (x, y): x of shape (n, T, 2) -- channel 0 the values U[0, 1], channel 1 the markers (0/1,
        exactly one in steps [0, T/2) and one in [T/2, T)); y of shape (n,), the sum of the marked values.
    """
    if T < 2:
        raise ValueError(f"the adding problem needs T >= 2, got {T}")
    g = _generator(seed)
    values = torch.rand(n, T, generator=g, dtype=torch.float64)
    half = T // 2
    first = torch.randint(0, half, (n,), generator=g)
    second = torch.randint(half, T, (n,), generator=g)
    markers = torch.zeros(n, T, dtype=torch.float64)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    x = torch.stack([values, markers], dim=2)
    dev = get_device(device)
    return x.to(dev, dtype), y.to(dev, dtype)


def long_lag_task(n, T, n_classes=4, n_distractors=4, seed=0, device=None, dtype=torch.float32):
    """``n`` sequences of the long-lag memory task of length ``T``, one-hot coded.

    Symbols: K = ``n_classes`` class symbols, ``n_distractors`` distractor symbols, one query symbol;
    D = K + n_distractors + 1.

    Returns:
        (x, y): x of shape (n, T, D), one-hot; y of shape (n,) int64 in [0, K), the class at t = 0.
    """
    if T < 2:
        raise ValueError(f"the long-lag task needs T >= 2, got {T}")
    g = _generator(seed)
    K, M = n_classes, n_distractors
    y = torch.randint(0, K, (n,), generator=g)
    symbols = torch.empty(n, T, dtype=torch.long)
    symbols[:, 0] = y
    symbols[:, 1:T - 1] = K + torch.randint(0, M, (n, T - 2), generator=g)
    symbols[:, T - 1] = K + M
    x = F.one_hot(symbols, K + M + 1)
    dev = get_device(device)
    return x.to(dev, dtype), y.to(dev)


TASKS = {
    "adding": dict(make=adding_problem, input_size=2, output_size=1, loss="mse"),
    "long_lag": dict(make=long_lag_task, input_size=9, output_size=4, loss="ce"),
}


# ----------------------------------------------------------------------------------------------
# training


@dataclass
class History:
    """What :func:`train` reached: the loss every ``log_every`` steps and the final test metric."""

    steps: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    test_loss: float = math.nan
    test_accuracy: float = math.nan
    seconds: float = 0.0


def task_loss(task, pred, y):
    """Mean squared error (adding; ``pred`` of shape (N, 1)) or cross-entropy (long_lag; (N, K))."""
    if TASKS[task]["loss"] == "mse":
        return F.mse_loss(pred.squeeze(-1), y)
    return F.cross_entropy(pred, y)


def evaluate(model, task, T, n=1000, seed=10_000, device=None):
    """(test loss, accuracy or NaN) of ``model`` on ``n`` fresh sequences (a seed never used for training)."""
    dev = get_device(device)
    x, y = TASKS[task]["make"](n, T, seed=seed, device=dev)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        pred = model(x)
    model.train(was_training)
    acc = (pred.argmax(1) == y).float().mean().item() if TASKS[task]["loss"] == "ce" else math.nan
    return task_loss(task, pred, y).item(), acc


def train(model, task, T, steps, batch_size=64, lr=1e-2, clip=1.0, seed=0, log_every=10, device=None,
          progress=False, desc=None):
    """Train ``model`` (x (N, T, D) -> predictions) with Adam on fresh batches of ``task``.

    Every step draws a new batch (seed ``seed + step``), so there is no over-fitting to measure;
    gradients are clipped to norm ``clip``. Returns a :class:`History` whose ``test_loss`` (and
    ``test_accuracy`` for classification) come from :func:`evaluate` after the last step.
    """
    import time

    dev = get_device(device)
    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    hist = History()
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=desc or f"{task} T={T}", leave=False)
    t0 = time.time()
    make = TASKS[task]["make"]
    for step in it:
        x, y = make(batch_size, T, seed=seed * 1_000_003 + step, device=dev)
        loss = task_loss(task, model(x), y)
        opt.zero_grad()
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            hist.steps.append(step)
            hist.loss.append(loss.item())
    hist.seconds = time.time() - t0
    hist.test_loss, hist.test_accuracy = evaluate(model, task, T, device=dev)
    return hist


def success_rates(models, task, lengths, steps, seeds=(0,), hidden_size=32, threshold=None, lr=1e-2,
                  batch_size=64, device=None, progress=True):
    """Train every model kind at every sequence length from several seeds; report how often it succeeds.

    Inputs:
        models: {label: (kind, forget_bias)} with kinds of :func:`reference_impl.recurrent_layers.make_layer`.
        task: "adding" or "long_lag"; lengths: sequence lengths T; steps: training steps per run.
        threshold: success means test MSE <= threshold (adding; default 0.01) or test accuracy >= threshold
            (long_lag; default 0.95).
    Returns:
        {label: {"success": [fraction of seeds per length], "metric": [[per-seed metric] per length]}}.
    """
    from .recurrent_layers import ManyToOne, make_layer

    spec = TASKS[task]
    mse = spec["loss"] == "mse"
    threshold = (0.01 if mse else 0.95) if threshold is None else threshold
    results = {label: {"success": [], "metric": []} for label in models}
    runs = [(label, T) for label in models for T in lengths]
    it = runs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(runs, desc=f"{task}: models x lengths")
    for label, T in it:
        kind, forget_bias = models[label]
        metrics = []
        for seed in seeds:
            torch.manual_seed(seed)
            layer = make_layer(kind, spec["input_size"], hidden_size, forget_bias=forget_bias, device=device)
            model = ManyToOne(layer, spec["output_size"], device=device)
            hist = train(model, task, T, steps, batch_size=batch_size, lr=lr, seed=seed, device=device)
            metrics.append(hist.test_loss if mse else hist.test_accuracy)
        ok = [m <= threshold if mse else m >= threshold for m in metrics]
        results[label]["success"].append(sum(ok) / len(ok))
        results[label]["metric"].append(metrics)
    return results
