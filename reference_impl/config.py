"""Fast mode and seeding.

Fast mode (``COURSE_FAST=1``) shrinks training budgets so that the tests execute every lecture in
seconds; full mode (the default) is what students run, and what the numbers quoted in lectures come
from. Training helpers pick their budget with :func:`budget`.
"""
import os
import random

import numpy as np

FAST_ENV_VAR = "COURSE_FAST"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def fast_mode() -> bool:
    """True when ``$COURSE_FAST`` is set to 1/true/yes/on."""
    value = os.environ.get(FAST_ENV_VAR, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"${FAST_ENV_VAR}={value!r}: use 1 (fast, for tests) or 0 (full, the default).")


def budget(full, fast):
    """``fast`` in fast mode, ``full`` otherwise: ``steps = budget(full=5000, fast=50)``."""
    return fast if fast_mode() else full


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and torch's generators (CPU and CUDA) with ``seed``."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency of the course
        return
    torch.manual_seed(int(seed))
