"""The small image classifiers that module 01 attacks, and one training loop for all of them.

Notation: N batch, H, W image height and width (8x8 digits, 28x28 MNIST-like), K classes.

    SmallCNN    conv 3x3 (32) - ReLU - maxpool 2 - conv 3x3 (64) - ReLU - maxpool 2 - FC 128 - ReLU - FC K
    MLP         flatten - FC h - ReLU - ... - FC K
    train       minibatch Adam on an :class:`~reference_impl.data.ImageSplit`; the loss is a function
                ``loss_fn(model, x, y) -> scalar`` so that adversarial training (``reference_impl.defenses``)
                plugs in without the trainer knowing about attacks.

Images are (N, 1, H, W) in [0, 1]; models return logits (N, K). Every model takes no device: move it with
``.to(device)``; :func:`train` takes ``device=`` and resolves it with :func:`~reference_impl.device.get_device`.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .device import get_device


class SmallCNN(nn.Module):
    """Two conv blocks and two fully connected layers: the course's small CNN (LeNet-like).

    Inputs:
        x: (N, 1, H, W) with H, W divisible by 4 (8x8 digits, 28x28 MNIST).
    Returns:
        logits of shape (N, K).
    """

    def __init__(self, image_size: int = 8, num_classes: int = 10, channels=(32, 64), hidden: int = 128):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4 (two 2x2 poolings), got {image_size}")
        c1, c2 = channels
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc1 = nn.Linear(c2 * (image_size // 4) ** 2, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer (N, hidden): the "feature space" of Szegedy et al. 2013."""
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)      # (N, c1, H/2, W/2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)      # (N, c2, H/4, W/4)
        return F.relu(self.fc1(h.flatten(1)))           # (N, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.features(x))


class MLP(nn.Module):
    """A fully connected classifier on flattened images.

    Inputs:
        x: (N, 1, H, W) (or (N, D)); hidden: sizes of the hidden layers (empty: a linear classifier).
    Returns:
        logits of shape (N, K).
    """

    def __init__(self, in_features: int = 64, hidden=(64,), num_classes: int = 10):
        super().__init__()
        sizes = [in_features, *hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(sizes[-1], num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer (N, hidden[-1]) (the flattened input when there is none)."""
        h = x.flatten(1)
        for layer in self.hidden:
            h = F.relu(layer(h))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


def cross_entropy_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The standard training loss: mean cross-entropy of ``model(x)`` (N, K) against ``y`` (N,)."""
    return F.cross_entropy(model(x), y)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Predicted classes (N,) of ``x`` (N, 1, H, W), in eval mode (the mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        dev = next(model.parameters()).device
        return torch.cat([model(x[i:i + batch_size].to(dev)).argmax(1) for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    """Fraction of ``x`` (N, 1, H, W) that ``model`` classifies as ``y`` (N,)."""
    pred = predict(model, x, batch_size)
    return (pred == y.to(pred.device)).float().mean().item()


def train(model: nn.Module, data, epochs: int, device=None, lr: float = 3e-3, batch_size: int = 64,
          loss_fn=cross_entropy_loss, seed: int = 0, weight_decay: float = 0.0, progress=True,
          desc: str = "training") -> dict:
    """Train ``model`` with minibatch Adam on ``data.x_train``, ``data.y_train``.

    Args:
        model: any classifier returning logits (N, K); moved to ``device``.
        data: an :class:`~reference_impl.data.ImageSplit` (x: (N, 1, H, W) in [0, 1], y: (N,)).
        epochs: passes over the training set.
        device: where to train (see :func:`~reference_impl.device.get_device`).
        loss_fn: ``loss_fn(model, x, y) -> scalar``; the default is the cross-entropy, adversarial
            training passes e.g. :func:`reference_impl.defenses.fgsm_training_loss`.
        seed: seeds the batch order (the model's initial weights are the caller's business).
        progress: show a tqdm bar with the running loss.

    Returns:
        ``{"loss": [mean training loss per epoch], "test_accuracy": clean test accuracy at the end}``.
    """
    dev = get_device(device)
    model.to(dev).train()
    x, y = data.x_train.to(dev), data.y_train.to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(seed)
    history = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        model.train()
        order = torch.randperm(len(x), generator=g).to(dev)
        total, count = 0.0, 0
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss = loss_fn(model, x[idx], y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            count += len(idx)
        history.append(total / count)
        bar.set_postfix(loss=f"{history[-1]:.3f}")
    model.eval()
    return {"loss": history, "test_accuracy": accuracy(model, data.x_test.to(dev), data.y_test.to(dev))}
