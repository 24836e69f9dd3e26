"""Digit canvases for visual attention: the "translated" and "cluttered" tasks of Mnih et al. (2014,
"Recurrent Models of Visual Attention", section 4.1) and a two-object task (Ba et al., 2015).

* translated: one digit pasted at a uniformly random position on an empty canvas;
* cluttered: the same, plus ``n_fragments`` square pieces cut at random from other random digits and
  pasted at random positions (the paper: 60x60 canvases, 28x28 MNIST digits, four 8x8 pieces);
* two digits: two digits side by side at random heights (left one in the left half, right one in the
  right half); the label is their sum (0..18) or the pair.

Notation: N examples, S canvas side, D digit side (after ``digit_scale``), F fragment side.

By default the digits are scikit-learn's bundled 8x8 scans (offline), enlarged ``digit_scale`` times
(nearest-neighbour, so every stroke stays a block of real pixels); ``source="mnist"`` or
``"fashion_mnist"`` uses the 28x28 images when they are on the machine (see
:mod:`reference_impl.data`). Pasting takes the pixelwise maximum, so clutter never erases the digit.

Everything is a function of ``seed`` alone: the same arguments give bit-identical canvases. Train
canvases are made from the source's train images, test canvases from its test images only.

    make_canvases("translated" | "cluttered", ...)  -> ImageSplit (x: (N, 1, S, S), y: (N,), meta: positions)
    make_two_digit_canvases(...)                     -> ImageSplit (y: sum, meta["digits"]: (N, 2))
    resampler(split, source)                         -> epoch -> fresh training canvases of the same kind
    paste(canvases, images, rows, cols)              -> the batched pasting every generator uses
"""
import torch
import torch.nn.functional as F

from . import data as data_module
from .data import ImageSplit

__all__ = ["paste", "place_digits", "add_clutter", "make_canvases", "make_two_digit_canvases",
           "source_images", "resampler", "PRESETS"]

# Sizes that keep the paper's proportions (digit ~ 0.47 of the canvas, pieces ~ 0.29 of a digit).
PRESETS = {
    "digits": dict(digit_scale=2, canvas_size=36, fragment_size=5, n_fragments=4),  # 16x16 digits
    "mnist": dict(digit_scale=1, canvas_size=60, fragment_size=8, n_fragments=4),  # the paper's setup
    "fashion_mnist": dict(digit_scale=1, canvas_size=60, fragment_size=8, n_fragments=4),
}


# ----------------------------------------------------------------------------------------------
# pure pieces


def paste(canvases: torch.Tensor, images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Paste ``images[n]`` into ``canvases[n]`` with its top-left corner at (rows[n], cols[n]),
    combining by pixelwise maximum; parts that would fall off the canvas are dropped.

    Inputs:
        canvases: (N, C, S, S).
        images: (N, C, h, w).
        rows, cols: (N,) int64 top-left corners (may be negative or too large).
    Returns:
        a new (N, C, S, S) tensor.
    """
    N, C, S, S2 = canvases.shape
    h, w = images.shape[-2:]
    r = rows[:, None] + torch.arange(h)  # (N, h) canvas rows of each image row
    c = cols[:, None] + torch.arange(w)  # (N, w)
    inside = ((r >= 0) & (r < S))[:, :, None] & ((c >= 0) & (c < S2))[:, None, :]  # (N, h, w)
    # Write through flat indices; pixels outside go to one scratch slot at the end.
    flat = (r.clamp(0, S - 1) * S2)[:, :, None] + c.clamp(0, S2 - 1)[:, None, :]  # (N, h, w)
    base = torch.arange(N * C).view(N, C, 1, 1) * (S * S2)
    index = torch.where(inside[:, None], base + flat[:, None], N * C * S * S2)  # (N, C, h, w)
    out = torch.cat([canvases.reshape(-1), canvases.new_zeros(1)])
    out = out.scatter_reduce(0, index.reshape(-1), images.reshape(-1), reduce="amax")
    return out[:-1].view(N, C, S, S2)


def place_digits(images: torch.Tensor, canvas_size: int, generator: torch.Generator):
    """Each image at a uniformly random position (entirely inside) on an empty canvas.

    Inputs:
        images: (N, C, D, D).
    Returns:
        canvases (N, C, S, S) and positions (N, 2) int64 (row, col) of each image's top-left corner.
    """
    N, C, D, _ = images.shape
    if D > canvas_size:
        raise ValueError(f"digits of side {D} do not fit on a {canvas_size}x{canvas_size} canvas")
    pos = torch.randint(0, canvas_size - D + 1, (N, 2), generator=generator)
    empty = images.new_zeros(N, C, canvas_size, canvas_size)
    return paste(empty, images, pos[:, 0], pos[:, 1]), pos


def add_clutter(canvases: torch.Tensor, pool: torch.Tensor, n_fragments: int, fragment_size: int,
                generator: torch.Generator) -> torch.Tensor:
    """Paste ``n_fragments`` random square pieces of random images from ``pool`` at random positions.

    Inputs:
        canvases: (N, C, S, S).
        pool: (M, C, D, D) images to cut pieces from.
    Returns:
        a new (N, C, S, S) tensor.
    """
    N, C, S, _ = canvases.shape
    M, _, D, _ = pool.shape
    F_ = fragment_size
    out = canvases
    for _ in range(n_fragments):
        src = torch.randint(0, M, (N,), generator=generator)
        cut = torch.randint(0, D - F_ + 1, (N, 2), generator=generator)
        at = torch.randint(0, S - F_ + 1, (N, 2), generator=generator)
        r = cut[:, 0:1] + torch.arange(F_)  # (N, F)
        c = cut[:, 1:2] + torch.arange(F_)
        pieces = pool[src[:, None, None], :, r[:, :, None], c[:, None, :]].permute(0, 3, 1, 2)  # (N, C, F, F)
        out = paste(out, pieces, at[:, 0], at[:, 1])
    return out


def _enlarge(images: torch.Tensor, factor: int) -> torch.Tensor:
    return images if factor == 1 else F.interpolate(images, scale_factor=factor, mode="nearest")


def source_images(source="digits", digit_scale=None, **load_kwargs) -> ImageSplit:
    """The digits canvases are made of: ``data.load(source)`` enlarged ``digit_scale`` times.

    Returns:
        ImageSplit with x_*: (N, 1, D, D) in [0, 1].
    """
    split = data_module.load(source, **load_kwargs) if isinstance(source, str) else source
    factor = PRESETS.get(split.name, {}).get("digit_scale", 1) if digit_scale is None else digit_scale
    return ImageSplit(_enlarge(split.x_train, factor), split.y_train, _enlarge(split.x_test, factor),
                      split.y_test, split.classes, split.name, split.source, {"digit_scale": factor})


def _options(split, **given):
    preset = PRESETS.get(split.name, PRESETS["mnist"])
    return {k: (preset[k] if v is None else v) for k, v in given.items()}


# ----------------------------------------------------------------------------------------------
# data sets


def make_canvases(kind="translated", source="digits", n_train=10000, n_test=2000, canvas_size=None,
                  digit_scale=None, n_fragments=None, fragment_size=None, seed=0, **load_kwargs) -> ImageSplit:
    """Translated or cluttered canvases, deterministic under ``seed``.

    Each canvas shows one image drawn at random (with replacement) from the source's train split
    (test canvases: from its test split), at a uniformly random position.

    Args:
        kind: ``"translated"`` or ``"cluttered"``.
        source: a registered data set name (``"digits"`` offline, ``"mnist"``, ``"fashion_mnist"``)
            or an ImageSplit.
        n_train, n_test: numbers of canvases.
        canvas_size, digit_scale, n_fragments, fragment_size: default to ``PRESETS[source]``.
        seed: the only source of randomness.
    Returns:
        ImageSplit with x_*: (N, 1, S, S) float32 in [0, 1], y_*: (N,) int64, the source's classes;
        meta holds ``pos_train`` / ``pos_test`` (N, 2) top-left (row, col) of each digit,
        ``digit_size`` and the options used.
    """
    if kind not in ("translated", "cluttered"):
        raise ValueError(f"kind must be 'translated' or 'cluttered', got {kind!r}")
    base = source_images(source, digit_scale, **load_kwargs)
    opts = _options(base, canvas_size=canvas_size, n_fragments=n_fragments, fragment_size=fragment_size)
    g = torch.Generator().manual_seed(seed)
    out, meta = {}, dict(kind=kind, digit_size=base.x_train.shape[-1], digit_scale=base.meta["digit_scale"],
                         seed=seed, **opts)
    for part, n in (("train", n_train), ("test", n_test)):
        x_src, y_src = getattr(base, f"x_{part}"), getattr(base, f"y_{part}")
        pick = torch.randint(0, len(x_src), (n,), generator=g)
        canvases, pos = place_digits(x_src[pick], opts["canvas_size"], g)
        if kind == "cluttered":
            canvases = add_clutter(canvases, x_src, opts["n_fragments"], opts["fragment_size"], g)
        out[part] = (canvases, y_src[pick])
        meta[f"pos_{part}"] = pos
    name = f"{kind}_{base.name}"
    return ImageSplit(out["train"][0], out["train"][1], out["test"][0], out["test"][1], base.classes, name,
                      f"{kind} canvases from {base.source}", meta)


def make_two_digit_canvases(source="digits", n_train=10000, n_test=2000, canvas_size=None, digit_scale=None,
                            target="sum", seed=0, **load_kwargs) -> ImageSplit:
    """Two digits on one canvas, the first in the left half and the second in the right half, each at
    a random height and a random horizontal offset within its half.

    Args:
        target: ``"sum"`` (labels 0..18) or ``"first"`` (the left digit, 0..9).
    Returns:
        ImageSplit with x_*: (N, 1, S, S), y_*: (N,) the target; meta ``digits_train`` /
        ``digits_test`` (N, 2) the two labels left to right, ``pos_*`` (N, 2, 2) their top-left corners.
    """
    if target not in ("sum", "first"):
        raise ValueError(f"target must be 'sum' or 'first', got {target!r}")
    base = source_images(source, digit_scale, **load_kwargs)
    S = _options(base, canvas_size=canvas_size)["canvas_size"]
    D = base.x_train.shape[-1]
    if 2 * D > S:
        raise ValueError(f"two digits of side {D} do not fit side by side on a {S}x{S} canvas")
    g = torch.Generator().manual_seed(seed)
    out, meta = {}, dict(kind="two_digits", target=target, digit_size=D, canvas_size=S, seed=seed,
                         digit_scale=base.meta["digit_scale"])
    for part, n in (("train", n_train), ("test", n_test)):
        x_src, y_src = getattr(base, f"x_{part}"), getattr(base, f"y_{part}")
        pick = torch.randint(0, len(x_src), (n, 2), generator=g)
        rows = torch.randint(0, S - D + 1, (n, 2), generator=g)
        cols = torch.randint(0, S // 2 - D + 1, (n, 2), generator=g) + torch.tensor([0, S // 2])
        canvases = x_src.new_zeros(n, 1, S, S)
        for j in range(2):
            canvases = paste(canvases, x_src[pick[:, j]], rows[:, j], cols[:, j])
        digits = y_src[pick]  # (n, 2)
        y = digits.sum(1) if target == "sum" else digits[:, 0]
        out[part] = (canvases, y)
        meta[f"digits_{part}"] = digits
        meta[f"pos_{part}"] = torch.stack([rows, cols], dim=2)
    classes = tuple(str(i) for i in range(19)) if target == "sum" else base.classes
    return ImageSplit(out["train"][0], out["train"][1], out["test"][0], out["test"][1], classes,
                      f"two_digits_{base.name}", f"two-digit canvases from {base.source}", meta)


def resampler(split: ImageSplit, source="digits", **load_kwargs):
    """Fresh training canvases for every epoch, made like ``split`` (same kind, sizes and clutter)
    from the same source's train images, with seed ``split.meta["seed"] + 1 + epoch``.

    The canvases differ from epoch to epoch while the digits are the same: positions and clutter
    cannot be memorized (the paper's canvases were likewise generated on the fly). Test canvases are
    untouched and come from held-out images.

    Returns:
        ``fresh(epoch) -> (x_train (N, 1, S, S), y_train (N,))``, for ``fit(..., resample=fresh)``.
    """
    base = data_module.load(source, **load_kwargs) if isinstance(source, str) else source
    m, n = split.meta, len(split.x_train)

    def fresh(epoch):
        seed = m["seed"] + 1 + epoch
        if m["kind"] == "two_digits":
            new = make_two_digit_canvases(base, n_train=n, n_test=0, canvas_size=m["canvas_size"],
                                          digit_scale=m.get("digit_scale"), target=m["target"], seed=seed)
        else:
            new = make_canvases(m["kind"], base, n_train=n, n_test=0, canvas_size=m["canvas_size"],
                                digit_scale=m["digit_scale"], n_fragments=m["n_fragments"],
                                fragment_size=m["fragment_size"], seed=seed)
        return new.x_train, new.y_train

    return fresh
