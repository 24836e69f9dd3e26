"""Data sets of the course: a registry of loaders, offline by default and deterministic under a seed.

    >>> from reference_impl import data
    >>> data.available()                       # name -> one-line description
    >>> digits = data.load("digits")           # always offline: scikit-learn's bundled digits
    >>> digits.x_train.shape                   # (N, 1, 8, 8), float32 in [0, 1]

Image data sets come back as an :class:`ImageSplit` of tensors:
``x_*: (N, 1, H, W)`` float32 in [0, 1] and ``y_*: (N,)`` int64.

Real data (MNIST, Fashion-MNIST) are read from IDX files, looked for in this order:
1. the course cache, ``$COURSE_DATA_DIR`` or ``~/.cache/rnn-attention-course`` (decoded once, then
   kept there as ``.npz``);
2. system data packages: Debian's ``dataset-fashion-mnist`` puts Fashion-MNIST under
   ``/usr/share/datasets/fashion-mnist/``;
3. only when you opt in (``download=True`` or ``$COURSE_DOWNLOAD=1``): torchvision's download into
   the cache.
Nothing is ever downloaded at import time or by default; offline without the files, the loader says
which offline data sets can stand in.
"""
import gzip
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

CACHE_ENV_VAR = "COURSE_DATA_DIR"
DOWNLOAD_ENV_VAR = "COURSE_DOWNLOAD"
SYSTEM_DATA_DIRS = (Path("/usr/share/datasets"),)


class DataUnavailableError(RuntimeError):
    """A data set's files are not on this machine and downloading was not allowed or failed."""


# ----------------------------------------------------------------------------------------------
# containers and registry


@dataclass
class ImageSplit:
    """A labelled image data set with a fixed train/test split.

    Attributes:
        x_train: (N_train, 1, H, W) float32 in [0, 1]
        y_train: (N_train,) int64 class indices
        x_test:  (N_test, 1, H, W) float32 in [0, 1]
        y_test:  (N_test,) int64
        classes: class names, ``classes[y]`` names label ``y``
        name:    registry name
        source:  where the data came from (a package, a file path)
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple
    name: str
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def image_shape(self):
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to(self, device) -> "ImageSplit":
        """A copy with every tensor on ``device``."""
        from .device import get_device

        dev = get_device(device)
        return ImageSplit(self.x_train.to(dev), self.y_train.to(dev), self.x_test.to(dev),
                          self.y_test.to(dev), self.classes, self.name, self.source, dict(self.meta))

    def subset(self, n_train=None, n_test=None, seed: int = 0) -> "ImageSplit":
        """A random subset (same for the same seed) with at most ``n_train`` / ``n_test`` examples."""
        g = torch.Generator().manual_seed(seed)

        def pick(x, y, n):
            if n is None or n >= len(x):
                return x, y
            idx = torch.randperm(len(x), generator=g)[:n].to(x.device)
            return x[idx], y[idx]

        xtr, ytr = pick(self.x_train, self.y_train, n_train)
        xte, yte = pick(self.x_test, self.y_test, n_test)
        return ImageSplit(xtr, ytr, xte, yte, self.classes, self.name, self.source, dict(self.meta))

    def __repr__(self):
        return (f"ImageSplit({self.name!r}: train {tuple(self.x_train.shape)}, "
                f"test {tuple(self.x_test.shape)}, {self.num_classes} classes, from {self.source})")


@dataclass(frozen=True)
class _Entry:
    loader: Callable
    description: str
    offline: bool


_REGISTRY: dict = {}


def register(name: str, description: str, offline: bool):
    """Decorator adding a loader to the registry under ``name``."""

    def wrap(fn):
        if name in _REGISTRY:
            raise ValueError(f"data set {name!r} is registered twice")
        _REGISTRY[name] = _Entry(fn, description, offline)
        return fn

    return wrap


def _import_providers():
    """Import every reference_impl module that registers data sets (they call ``register``), so that
    ``load("mackey_glass")`` works without importing the module that defines it first."""
    import importlib
    import pkgutil

    package = Path(__file__).resolve().parent
    for info in pkgutil.iter_modules([str(package)]):
        if info.name == "data":
            continue
        try:
            text = (package / f"{info.name}.py").read_text()
        except OSError:
            continue
        if re.search(r"data\.register\(|from (\.|reference_impl\.)data import [^\n]*\bregister\b", text):
            importlib.import_module(f"{__package__}.{info.name}")


def available() -> dict:
    """Registered data sets: ``{name: description}`` (offline ones say so)."""
    _import_providers()
    return {n: e.description + ("" if e.offline else " [needs files or an opt-in download]")
            for n, e in sorted(_REGISTRY.items())}


def load(name: str, **kwargs):
    """Load a registered data set by name; keyword arguments go to its loader."""
    if name not in _REGISTRY:
        _import_providers()
    try:
        entry = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown data set {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None
    return entry.loader(**kwargs)


def offline_alternatives() -> str:
    return ", ".join(f"load({n!r})" for n, e in sorted(_REGISTRY.items()) if e.offline)


# ----------------------------------------------------------------------------------------------
# scikit-learn's handwritten digits: 1,797 real 8x8 images, shipped with the package


@register("digits", "scikit-learn's bundled handwritten digits: 1,797 real 8x8 images, 10 classes",
          offline=True)
def load_digits(test_fraction: float = 0.25, seed: int = 0) -> ImageSplit:
    """The UCI handwritten digits bundled with scikit-learn, split stratified by class.

    Pixels (0..16 in the file) are scaled to [0, 1]. The split depends only on ``seed``.

    Returns:
        ImageSplit with x_*: (N, 1, 8, 8) float32, y_*: (N,) int64.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    bunch = sk_load_digits()
    images = bunch.images.astype(np.float32) / 16.0  # (1797, 8, 8)
    labels = bunch.target.astype(np.int64)
    idx_train, idx_test = train_test_split(np.arange(len(labels)), test_size=test_fraction,
                                           random_state=seed, stratify=labels)
    x = torch.from_numpy(images).unsqueeze(1)
    y = torch.from_numpy(labels)
    return ImageSplit(x[idx_train], y[idx_train], x[idx_test], y[idx_test],
                      tuple(str(i) for i in range(10)), "digits", "scikit-learn (bundled UCI digits)")


# ----------------------------------------------------------------------------------------------
# IDX files (the MNIST family)

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into an array of its stored shape.

    IDX layout: two zero bytes, a dtype byte, a byte giving the number of dimensions, one
    big-endian uint32 per dimension, then the data in C order.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX data type 0x{dtype_code:02x}")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[dtype_code])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != expected:
        raise ValueError(f"{path}: header promises {dims} ({expected} bytes), file holds {len(body)} bytes "
                         "(truncated or corrupted download?)")
    return np.frombuffer(body, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_FAMILY = {
    "mnist": dict(title="MNIST", system_dir="mnist", torchvision="MNIST",
                  classes=tuple(str(i) for i in range(10)), debian=None),
    "fashion_mnist": dict(title="Fashion-MNIST", system_dir="fashion-mnist", torchvision="FashionMNIST",
                          classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                   "Shirt", "Sneaker", "Bag", "Ankle boot"),
                          debian="dataset-fashion-mnist"),
}


def cache_dir() -> Path:
    """Where decoded data sets are kept: ``$COURSE_DATA_DIR`` or ``~/.cache/rnn-attention-course``."""
    root = os.environ.get(CACHE_ENV_VAR)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "rnn-attention-course"


def _find_idx_dir(directory: Path):
    """``{key: path}`` if all four IDX files (plain or .gz) are in ``directory``, else None."""
    found = {}
    for key, stem in _MNIST_FILES.items():
        for candidate in (directory / stem, directory / f"{stem}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


def _download_with_torchvision(name: str, root: Path) -> Path:
    spec = _FAMILY[name]
    try:
        import torchvision.datasets as tvd
    except ImportError as exc:
        raise DataUnavailableError(
            f"Downloading {spec['title']} uses torchvision, which is not installed "
            f"(pip install torchvision matching your torch). Offline alternatives: {offline_alternatives()}."
        ) from exc
    cls = getattr(tvd, spec["torchvision"])
    try:
        for train in (True, False):
            cls(root=str(root), train=train, download=True)
    except Exception as exc:  # network errors come in many types
        raise DataUnavailableError(
            f"Could not download {spec['title']} ({type(exc).__name__}: {exc}). "
            f"Offline alternatives: {offline_alternatives()}."
        ) from exc
    return root / spec["torchvision"] / "raw"


def load_mnist_family(name: str, download=None, system_dirs=None) -> ImageSplit:
    """Load MNIST or Fashion-MNIST from IDX files (see the module docstring for where they are found).

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        download: allow torchvision's download when no local files are found; ``None`` reads
            ``$COURSE_DOWNLOAD`` (off unless set to 1).
        system_dirs: directories holding system data packages (default: ``/usr/share/datasets``).

    Returns:
        ImageSplit with x_*: (N, 1, 28, 28) float32 in [0, 1], y_*: (N,) int64; the official
        60,000 / 10,000 split.

    Raises:
        DataUnavailableError: no files and downloading not allowed (or failed); the message names
            the offline alternatives.
    """
    if name not in _FAMILY:
        raise KeyError(f"{name!r} is not in the MNIST family: {sorted(_FAMILY)}")
    spec = _FAMILY[name]
    if download is None:
        download = os.environ.get(DOWNLOAD_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}
    cached = cache_dir() / f"{name}.npz"
    if cached.is_file():
        with np.load(cached) as z:
            arrays, source = {k: z[k] for k in _MNIST_FILES}, str(z["source"])
    else:
        dirs = [cache_dir() / name] + [Path(d) / spec["system_dir"] for d in (system_dirs or SYSTEM_DATA_DIRS)]
        files = next((f for f in map(_find_idx_dir, dirs) if f), None)
        if files is None:
            if not download:
                hint = (f" On Debian/Ubuntu, `apt-get install {spec['debian']}` puts real {spec['title']} "
                        "files on disk." if spec["debian"] else "")
                raise DataUnavailableError(
                    f"{spec['title']} is not on this machine (looked in {', '.join(map(str, dirs))}) and "
                    f"downloading is off.{hint} To download it once into the cache, call "
                    f"load({name!r}, download=True) or set {DOWNLOAD_ENV_VAR}=1 (needs the network and "
                    f"torchvision). Offline alternatives: {offline_alternatives()}."
                )
            files = _find_idx_dir(_download_with_torchvision(name, cache_dir() / name))
            if files is None:
                raise DataUnavailableError(f"torchvision's download of {spec['title']} left no IDX files.")
        arrays = {k: read_idx(p) for k, p in files.items()}
        source = str(files["train_images"].parent)
        _check_mnist_arrays(arrays, spec["title"], source)
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.npz")
            np.savez(tmp, source=np.array(source), **arrays)
            tmp.replace(cached)
        except OSError:
            pass  # a read-only home is fine: we decode again next time
    _check_mnist_arrays(arrays, spec["title"], source)

    def images(a):
        return torch.from_numpy(a.astype(np.float32) / 255.0).unsqueeze(1)

    def labels(a):
        return torch.from_numpy(a.astype(np.int64))

    return ImageSplit(images(arrays["train_images"]), labels(arrays["train_labels"]),
                      images(arrays["test_images"]), labels(arrays["test_labels"]),
                      spec["classes"], name, source)


def _check_mnist_arrays(arrays, title, source):
    for part in ("train", "test"):
        x, y = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataUnavailableError(f"{title} files in {source} are inconsistent: {part} images "
                                       f"{x.shape}, labels {y.shape}.")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise DataUnavailableError(f"{title} labels in {source} fall outside 0..9.")


@register("mnist", "MNIST handwritten digits, 28x28 (cache, system package or opt-in download)",
          offline=False)
def load_mnist(download=None, system_dirs=None) -> ImageSplit:
    return load_mnist_family("mnist", download=download, system_dirs=system_dirs)


@register("fashion_mnist", "Fashion-MNIST, 28x28 (Debian's dataset-fashion-mnist, cache or opt-in download)",
          offline=False)
def load_fashion_mnist(download=None, system_dirs=None) -> ImageSplit:
    return load_mnist_family("fashion_mnist", download=download, system_dirs=system_dirs)
