"""What the nbgrader test cells call: checks whose failure messages a student can act on.

A failed check raises :class:`GradingError` (an ``AssertionError``, so nbgrader scores the cell as
failed) whose message names the function and input, the expected and the actual (shape, dtype,
values, where the largest error sits), and what the hidden tests will check.

    >>> from reference_impl.grading import assert_close, compare_to_reference, assert_independent
    >>> assert_close(softmax(x), expected, name="softmax(x)", inputs={"x": x})
    >>> compare_to_reference(softmax, numerics.softmax, cases, name="softmax")
    >>> assert_independent(softmax, x)            # the student's function must not call reference_impl

Everything works on NumPy arrays, torch tensors and Python scalars alike.
"""
import math
import os
import sys
import traceback

import numpy as np

from .numerics import rel_error as _numerics_rel_error

# Bind what the checks rely on now, so that a notebook that later reassigns e.g. ``np.isfinite``
# or ``torch.allclose`` cannot change how it is judged.
_np_asarray = np.asarray
_np_isfinite = np.isfinite
_np_abs = np.abs
_np_argmax = np.argmax
_np_unravel = np.unravel_index
_np_maximum = np.maximum
_getprofile = sys.getprofile
_setprofile = sys.setprofile

HIDDEN_NOTE = "The hidden tests check the same property on other seeded inputs and shapes."
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class GradingError(AssertionError):
    """A check failed; the message is written for the student."""


# ----------------------------------------------------------------------------------------------
# description helpers


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _to_numpy(x):
    if _is_torch(x):
        return x.detach().cpu().numpy()
    return _np_asarray(x)


def _kind(x) -> str:
    if _is_torch(x):
        return f"torch.Tensor (dtype {str(x.dtype).replace('torch.', 'torch.')}, device {x.device})"
    if isinstance(x, np.ndarray):
        return f"numpy.ndarray (dtype {x.dtype})"
    return type(x).__name__


def describe(x) -> str:
    """Short description of a value for messages: type, shape, dtype."""
    if _is_torch(x) or isinstance(x, np.ndarray):
        return f"{_kind(x)} of shape {tuple(x.shape)}"
    if isinstance(x, (list, tuple)):
        return f"{type(x).__name__} of length {len(x)}"
    return f"{type(x).__name__} {x!r}"[:120]


def _describe_inputs(inputs) -> str:
    if not inputs:
        return ""
    parts = [f"{k} = {describe(v)}" for k, v in inputs.items()]
    return "  inputs: " + "; ".join(parts) + "\n"


def _fail(name, problem, inputs=None, hint=None):
    msg = f"{name}: {problem}\n" + _describe_inputs(inputs)
    if hint:
        msg += f"  hint: {hint}\n"
    msg += f"  {HIDDEN_NOTE}"
    raise GradingError(msg)


def rel_error(x, y, eps: float = 1e-12) -> float:
    """max |x - y| / max(|x| + |y|, eps) over all elements (CS231n's relative error); arrays or tensors."""
    return _numerics_rel_error(_to_numpy(x), _to_numpy(y), eps)


# ----------------------------------------------------------------------------------------------
# single checks


def check_array(actual, name="output", inputs=None, like=None):
    """``actual`` must be a NumPy array or torch tensor (or, if ``like`` is given, the same kind as ``like``)."""
    ok_types = _is_torch(actual) or isinstance(actual, np.ndarray)
    if actual is None:
        _fail(name, "returned None. Did you forget a `return` statement (or leave the "
                    "`raise NotImplementedError()` in place)?", inputs)
    if like is not None:
        if _is_torch(like) and not _is_torch(actual):
            _fail(name, f"expected a torch.Tensor, got {describe(actual)}.", inputs,
                  "work with torch operations throughout so autograd can follow.")
        if isinstance(like, np.ndarray) and not isinstance(actual, np.ndarray):
            _fail(name, f"expected a numpy.ndarray, got {describe(actual)}.", inputs)
    elif not ok_types:
        _fail(name, f"expected an array or tensor, got {describe(actual)}.", inputs)


def check_shape(actual, expected_shape, name="output", inputs=None):
    """``actual.shape`` must equal ``expected_shape``."""
    expected_shape = tuple(int(s) for s in expected_shape)
    shape = tuple(int(s) for s in getattr(actual, "shape", np.shape(actual)))
    if shape != expected_shape:
        hint = None
        if sorted(shape) == sorted(expected_shape):
            hint = "same sizes in another order: a transpose or a wrong axis/dim argument?"
        elif len(shape) == len(expected_shape) - 1:
            hint = "one dimension missing: did a reduction drop it (keepdims=True / keepdim=True)?"
        elif int(np.prod(shape)) == int(np.prod(expected_shape)):
            hint = "same number of elements: a reshape/view in the wrong order?"
        _fail(name, f"wrong shape: expected {expected_shape}, got {shape}.", inputs, hint)


def check_dtype(actual, expected, name="output", inputs=None):
    """The dtype of ``actual`` must equal the dtype of ``expected`` (an array/tensor or a dtype)."""
    exp_dtype = getattr(expected, "dtype", expected)
    act_dtype = getattr(actual, "dtype", None)
    if str(act_dtype) != str(exp_dtype):
        _fail(name, f"wrong dtype: expected {exp_dtype}, got {act_dtype}.", inputs,
              "keep the input's floating type (avoid mixing float32 and float64, or ints).")


def assert_close(actual, expected, name="output", inputs=None, rtol=1e-5, atol=1e-8,
                 check_type=True, check_dtypes=True, hint=None):
    """``actual`` must match ``expected`` in kind, shape, dtype and values (elementwise
    ``|a - e| <= atol + rtol * |e|``, like ``numpy.allclose``), with no NaN or inf where the expected has none.

    Args:
        actual: the student's result (array, tensor or scalar).
        expected: the reference result.
        name: how the call reads in messages, e.g. ``"softmax(x)"``.
        inputs: ``{argument name: value}`` described in the message.
        check_type: demand the same container kind (NumPy vs torch) as ``expected``.
        check_dtypes: demand the same dtype as ``expected``.
        hint: one extra sentence for a failure on values.
    """
    scalar = np.ndim(_to_numpy(expected)) == 0 and not (_is_torch(expected) or isinstance(expected, np.ndarray))
    if scalar:
        if actual is None:
            check_array(actual, name, inputs)
        try:
            a = float(actual)
        except (TypeError, ValueError):
            _fail(name, f"expected a number, got {describe(actual)}.", inputs)
        e = float(expected)
        if not (math.isfinite(a) or not math.isfinite(e)):
            _fail(name, f"expected {e:.6g}, got {a} (not finite).", inputs,
                  "overflow or log(0)? Subtract the maximum before exponentiating.")
        if not abs(a - e) <= atol + rtol * abs(e):
            _fail(name, f"expected {e:.8g}, got {a:.8g} (difference {abs(a - e):.3g}; "
                        f"tolerance atol={atol:g}, rtol={rtol:g}).", inputs, hint)
        return
    check_array(actual, name, inputs, like=expected if check_type else None)
    check_shape(actual, tuple(expected.shape), name, inputs)
    if check_dtypes:
        check_dtype(actual, expected, name, inputs)
    a = _to_numpy(actual).astype(np.float64)
    e = _to_numpy(expected).astype(np.float64)
    if a.size == 0:
        return
    bad_finite = ~_np_isfinite(a) & _np_isfinite(e)
    if bad_finite.any():
        idx = tuple(int(i) for i in _np_unravel(int(_np_argmax(bad_finite)), a.shape))
        _fail(name, f"{int(bad_finite.sum())} element(s) are NaN or inf where finite values are expected; "
                    f"first at index {idx} (got {a[idx]}, expected {e[idx]:.6g}).", inputs,
              "overflow or log(0)? Subtract the maximum before exponentiating (numerical stability).")
    err = _np_abs(a - e)
    err = np.where(_np_isfinite(e), err, np.where(a == e, 0.0, np.inf))
    allowed = atol + rtol * _np_abs(np.where(_np_isfinite(e), e, 0.0))
    over = err > allowed
    if over.any():
        worst = tuple(int(i) for i in _np_unravel(int(_np_argmax(err - allowed)), a.shape))
        _fail(name,
              f"wrong values in {int(over.sum())} of {a.size} elements. Largest error "
              f"|actual - expected| = {float(err[worst]):.3g} at index {worst}: got {a[worst]:.8g}, "
              f"expected {e[worst]:.8g} (tolerance atol={atol:g}, rtol={rtol:g}; "
              f"relative error {rel_error(a, e):.3g}).", inputs, hint)


# ----------------------------------------------------------------------------------------------
# student vs reference


def call_student(fn, *args, name=None, inputs=None, **kwargs):
    """Call the student's ``fn``; an exception becomes a :class:`GradingError` naming the input."""
    name = name or getattr(fn, "__name__", "your function")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise GradingError(f"{name}: not implemented yet (it raised NotImplementedError).\n"
                           f"  Replace `raise NotImplementedError()` with your solution.") from None
    except GradingError:
        raise
    except Exception as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"line {fr.lineno}: {fr.line}" for fr in reversed(tb) if fr.line), "")
        raise GradingError(f"{name} raised {type(exc).__name__}: {exc}\n" + _describe_inputs(inputs)
                           + (f"  at {where}\n" if where else "") + f"  {HIDDEN_NOTE}") from None


def random_cases(make_case, n: int = 5, seed: int = 0):
    """``[make_case(rng, i) for i in range(n)]`` with ``rng = numpy.random.default_rng(seed)``.

    ``make_case`` returns a dict ``{argument name: value}`` used as keyword arguments.
    """
    rng = np.random.default_rng(seed)
    return [make_case(rng, i) for i in range(n)]


def compare_to_reference(student_fn, reference_fn, cases, name=None, rtol=1e-5, atol=1e-8,
                         check_type=True, check_dtypes=True, hint=None):
    """Run both functions on every case (a dict of keyword arguments) and demand equal results.

    Results may be single arrays/scalars or tuples of them (compared position by position).
    """
    name = name or getattr(student_fn, "__name__", "your function")
    for i, case in enumerate(cases):
        call = f"{name}({', '.join(case)}) [case {i + 1} of {len(cases)}]"
        expected = reference_fn(**_copy_case(case))
        actual = call_student(student_fn, name=call, inputs=case, **_copy_case(case))
        if isinstance(expected, tuple):
            if not isinstance(actual, tuple) or len(actual) != len(expected):
                _fail(call, f"expected a tuple of {len(expected)} results, got {describe(actual)}.", case)
            for j, (a, e) in enumerate(zip(actual, expected)):
                assert_close(a, e, f"{call}, result {j}", case, rtol, atol, check_type, check_dtypes, hint)
        else:
            assert_close(actual, expected, call, case, rtol, atol, check_type, check_dtypes, hint)


def _copy_value(v):
    if _is_torch(v):
        return v.detach().clone().requires_grad_(v.requires_grad)
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, (list, tuple)):
        return type(v)(_copy_value(x) for x in v)
    if isinstance(v, dict):
        return {k: _copy_value(x) for k, x in v.items()}
    return v


def _copy_case(case):
    """Fresh (deep) copies so that an in-place student function cannot change the reference's input."""
    return {k: _copy_value(v) for k, v in case.items()}


# ----------------------------------------------------------------------------------------------
# "did they write it themselves?"

_ALWAYS_ALLOWED = ("reference_impl.grading", "reference_impl.device", "reference_impl.config",
                   "reference_impl.data", "reference_impl")


def _module_of(filename: str):
    path = os.path.abspath(filename)
    if not path.startswith(_PACKAGE_DIR + os.sep):
        return None
    rel = os.path.relpath(path, os.path.dirname(_PACKAGE_DIR))
    mod = rel[:-3] if rel.endswith(".py") else rel
    mod = mod.replace(os.sep, ".")
    return mod[: -len(".__init__")] if mod.endswith(".__init__") else mod


def reference_calls(fn, *args, allowed=(), **kwargs):
    """Run ``fn(*args, **kwargs)`` and list the ``reference_impl`` functions it called.

    Calls into the course's infrastructure (grading, device, config, data) and into the modules
    named in ``allowed`` do not count. Returns ``(result, [qualified names])``.
    """
    allowed = tuple(_ALWAYS_ALLOWED) + tuple(allowed)
    seen = []

    def profiler(frame, event, arg):
        if event == "call":
            mod = _module_of(frame.f_code.co_filename)
            if mod is not None and mod not in allowed:
                qual = f"{mod}.{frame.f_code.co_name}"
                if qual not in seen:
                    seen.append(qual)

    previous = _getprofile()
    _setprofile(profiler)
    try:
        result = fn(*args, **kwargs)
    finally:
        _setprofile(previous)
    return result, seen


def assert_independent(fn, *args, name=None, allowed=(), **kwargs):
    """Fail if the student's ``fn`` (called with these arguments) calls into ``reference_impl``.

    Any route counts, since the check watches which code actually runs: a direct import, an alias,
    ``importlib`` or ``sys.modules``. Returns the function's result.
    """
    name = name or getattr(fn, "__name__", "your function")
    result, calls = reference_calls(call_student, fn, *args, name=name, allowed=allowed, **kwargs)
    if calls:
        raise GradingError(
            f"{name}: calls the course's reference implementation ({', '.join(calls)}). "
            f"This task asks you to write it yourself, so it scores zero while it does. Use NumPy/torch "
            f"operations instead.")
    return result
