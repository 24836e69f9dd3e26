"""Baselines for the canvases of module 04 (Mnih et al., 2014, Table 1) and the one training loop
that the baselines and the Recurrent Attention Model share.

Notation: N batch, S canvas side, K classes.

    FCNet     flatten - FC 256 - ReLU - FC 256 - ReLU - FC K          ("FC, 2 layers (256 hiddens each)")
    ConvNet   conv 10x10 stride 5 (8 filters) - ReLU - FC 256 - ReLU - FC K   (the paper's convolutional
              baseline, with the kernel and stride scaled to the canvas: ``kernel = round(S / 6)``)
    fit       minibatch Adam on an ImageSplit with a loss ``loss_fn(model, x, y) -> (loss, logits)``;
              knows nothing about the model
    accuracy  test accuracy of ``predict(model, x) -> logits``

Both multiply their input by ``input_scale`` (input standardization, the same factor the RAM uses).
Models take no device; :func:`fit` and :func:`accuracy` take ``device=`` and resolve it with
:func:`~reference_impl.device.get_device`.
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .device import get_device

__all__ = ["FCNet", "ConvNet", "fit", "accuracy", "cross_entropy_loss"]


class FCNet(nn.Module):
    """Two hidden layers of 256 ReLUs on the flattened canvas.

    Inputs:
        x: (N, C, S, S).
    Returns:
        logits of shape (N, K).
    """

    def __init__(self, canvas_size: int, n_classes: int = 10, hidden: int = 256, channels: int = 1,
                 input_scale: float = 4.0):
        super().__init__()
        self.input_scale = input_scale
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(channels * canvas_size ** 2, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x):
        return self.net(x * self.input_scale)


class ConvNet(nn.Module):
    """One strided convolution (8 filters), a 256-unit ReLU layer and the classifier. On 60x60
    canvases the filter is 10x10 with stride 5, as in the paper; smaller canvases scale both.

    Inputs:
        x: (N, C, S, S).
    Returns:
        logits of shape (N, K).
    """

    def __init__(self, canvas_size: int, n_classes: int = 10, filters: int = 8, hidden: int = 256,
                 channels: int = 1, kernel: int = None, stride: int = None, input_scale: float = 4.0):
        super().__init__()
        self.input_scale = input_scale
        kernel = kernel or max(3, round(canvas_size / 6))
        stride = stride or max(1, kernel // 2)
        side = (canvas_size - kernel) // stride + 1
        self.net = nn.Sequential(nn.Conv2d(channels, filters, kernel, stride), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(filters * side * side, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x):
        return self.net(x * self.input_scale)


def cross_entropy_loss(model, x, y):
    """The loss of a plain classifier: ``(cross-entropy of model(x), logits)``."""
    logits = model(x)
    return F.cross_entropy(logits, y), logits


@torch.no_grad()
def accuracy(model, x, y, predict=None, batch_size=500, device=None) -> float:
    """Fraction of ``x`` (N, C, S, S) classified as ``y`` (N,) by ``predict(model, x) -> (N, K)``
    (default: ``model(x)``), in eval mode; restores the model's mode."""
    dev = get_device(device)
    predict = predict or (lambda m, xb: m(xb))
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size].to(dev), y[i:i + batch_size].to(dev)
        correct += (predict(model, xb).argmax(1) == yb).sum().item()
    model.train(was_training)
    return correct / max(1, len(x))


def fit(model, split, loss_fn=cross_entropy_loss, epochs=10, batch_size=64, lr=1e-3, device=None, seed=0,
        predict=None, desc="training", progress=True, max_cpu_seconds=None, clip=None, resample=None):
    """Minibatch Adam on ``split`` (an ImageSplit); returns a history dict.

    Args:
        loss_fn: ``loss_fn(model, x, y) -> (scalar loss, logits (N, K))``; logits give the train accuracy.
        epochs: passes over ``split.x_train`` (shuffled with ``seed``).
        predict: ``predict(model, x) -> logits`` for the test accuracy (default ``model(x)``).
        max_cpu_seconds: stop early after this much CPU time of this process (checked every batch).
        clip: clip the gradient norm to this value (None: no clipping).
        resample: optional ``resample(epoch) -> (x_train, y_train)`` giving fresh training examples
            for each epoch (e.g. :func:`reference_impl.canvases.resampler`); epoch 0 uses ``split``.
    Returns:
        dict with ``loss`` and ``train_acc`` per epoch, ``test_acc`` (final), ``seconds`` (wall clock)
        and ``cpu_seconds`` (this process's CPU time) of training, ``epochs`` completed and ``steps``.
    """
    dev = get_device(device)
    model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    x_train, y_train = split.x_train, split.y_train
    hist = dict(loss=[], train_acc=[], steps=0, epochs=0)
    t0, c0 = time.time(), time.process_time()

    def out_of_time():
        return max_cpu_seconds is not None and time.process_time() - c0 > max_cpu_seconds

    bar = tqdm(range(epochs), desc=desc, disable=not progress)
    for epoch in bar:
        if resample is not None and epoch > 0:
            x_train, y_train = resample(epoch)
        order = torch.randperm(len(x_train), generator=g)
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            xb, yb = x_train[idx].to(dev), y_train[idx].to(dev)
            loss, logits = loss_fn(model, xb, yb)
            opt.zero_grad()
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            hist["steps"] += 1
            total += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(idx)
            if out_of_time():
                break
        hist["loss"].append(total / seen)
        hist["train_acc"].append(correct / seen)
        hist["epochs"] += 1
        bar.set_postfix(loss=f"{hist['loss'][-1]:.3f}", train_acc=f"{hist['train_acc'][-1]:.3f}")
        if out_of_time():
            break
    hist["seconds"], hist["cpu_seconds"] = time.time() - t0, time.process_time() - c0
    hist["test_acc"] = accuracy(model, split.x_test, split.y_test, predict=predict, device=dev)
    return hist
