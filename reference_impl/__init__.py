"""Reference implementations for the course on recurrent networks, attention and memory.

Every lecture and assignment imports from here; the test suite checks this package against
implementations nobody here wrote (PyTorch built-ins, torch autograd, numeric gradients, ...).

Submodules (imported on demand, so ``import reference_impl`` stays cheap):
    device    -- where tensors go: CUDA when present, else CPU; ``COURSE_DEVICE`` forces one
    config    -- fast mode (``COURSE_FAST=1``) and seeding
    data      -- registry of offline-by-default data sets
    grading   -- what nbgrader test cells call: comparisons with messages a student can act on
    numerics  -- stable softmax / log-softmax / cross-entropy and gradient checking (module 00)
    course    -- instructor commands around nbgrader (``python -m reference_impl.course``)
"""
import importlib

__version__ = "0.1.0"



def __getattr__(name):
    # ``reference_impl.cells`` etc. work without importing every submodule (and torch) up front.
    if not name.startswith("_"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
