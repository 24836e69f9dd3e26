"""Device selection: CUDA when present, CPU otherwise.

Set the environment variable ``COURSE_DEVICE`` to ``cpu``, ``cuda`` (or ``cuda:N``) to force one,
or ``auto`` (the default) to pick. Every model and training helper of the course takes ``device=``
and passes it through :func:`get_device`; nothing else decides placement.
"""
import os

import torch

ENV_VAR = "COURSE_DEVICE"


def get_device(device=None) -> torch.device:
    """Resolve ``device`` to a :class:`torch.device`.

    Args:
        device: ``None`` or ``"auto"`` (use ``$COURSE_DEVICE``, else CUDA if available, else CPU),
            or anything :class:`torch.device` accepts (``"cpu"``, ``"cuda:0"``, a ``torch.device``).

    Raises:
        RuntimeError: CUDA was asked for (argument or environment) but is not available.
        ValueError: the environment variable holds something that is not a device.
    """
    if device is None or device == "auto":
        device = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
        source = f"${ENV_VAR}={device!r}"
    else:
        source = f"device={device!r}"
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{source} is not a device: use 'auto', 'cpu' or 'cuda[:N]'.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"{source} asks for CUDA, but torch {torch.__version__} sees no CUDA device. "
            f"Use 'cpu' or 'auto' (unset {ENV_VAR}); everything in this course runs on a CPU."
        )
    return dev


def describe(device=None) -> str:
    """One line saying which device is used and why, for the top of a notebook."""
    dev = get_device(device)
    if dev.type == "cuda":
        idx = dev.index if dev.index is not None else torch.cuda.current_device()
        name = torch.cuda.get_device_name(idx)
        return f"Using {dev} ({name}), torch {torch.__version__}"
    return f"Using CPU ({torch.get_num_threads()} threads), torch {torch.__version__}"
