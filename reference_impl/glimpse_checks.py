"""Grading a student's glimpse sensor (module 04) with messages that name the usual mistakes.

    >>> from reference_impl.glimpse_checks import check_glimpse, glimpse_cases
    >>> check_glimpse(glimpse, glimpse_cases(seed=0, border=True))

A wrong result is compared with what the reference gives under the two classic mistakes, and the
message says which one it is:

* (x, y) read as (row, col): the student's output equals the reference's at the swapped locations;
* out-of-bounds crops: an error (or a wrong value) only where a patch reaches past the image, i.e.
  the crop was not zero-padded (an IndexError, a short slice, a negative index wrapping around, or a
  window shifted back inside the image).
"""
import numpy as np
import torch

from .glimpse import glimpse as reference_glimpse
from .glimpse import glimpse_centres, pixel_to_location
from .grading import GradingError, assert_close, call_student, check_shape, describe

__all__ = ["glimpse_cases", "check_glimpse", "reaches_outside"]

HINT_PAD = ("near the image border part of each patch lies outside the image; those pixels count as 0. "
            "Pad the images with zeros (torch.nn.functional.pad) by the largest patch side before slicing, "
            "then shift your indices by the padding.")
HINT_XY = ("locations are ordered (x, y): locations[:, 0] is the horizontal coordinate (the column, "
           "width W) and locations[:, 1] the vertical one (the row, height H).")


def reaches_outside(locations, height, width, patch_size, n_scales, scale) -> torch.Tensor:
    """(N,) bool: whether the largest patch at each location extends past the image."""
    big = patch_size * scale ** (n_scales - 1)
    c = glimpse_centres(locations, height, width)
    lo = c - big // 2
    hi = lo + big
    return (lo < 0).any(1) | (hi[:, 0] > height) | (hi[:, 1] > width)


def _inside_locations(rng, N, H, W, big):
    """(N, 2) float64 locations (x, y) whose largest patch lies entirely inside an H x W image."""
    rows = rng.integers(big // 2, H - big + big // 2 + 1, size=N)
    cols = rng.integers(big // 2, W - big + big // 2 + 1, size=N)
    return pixel_to_location(torch.from_numpy(rows), torch.from_numpy(cols), H, W).double().numpy()


def glimpse_cases(seed=0, n=4, border=False, dtype=torch.float32):
    """Seeded argument dicts for ``glimpse``: random non-square images (C in 1..2), patch sizes and
    numbers of scales. ``border=False``: every patch lies inside the image; ``border=True``: every
    location is on an edge or a corner, so part of every patch lies outside."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        N, C = int(rng.integers(3, 7)), int(rng.integers(1, 3))
        patch, n_scales = int(rng.integers(2, 5)), int(rng.integers(1, 4))
        big = patch * 2 ** (n_scales - 1)
        H, W = big + int(rng.integers(2, 10)), big + int(rng.integers(2, 10))
        while H == W:
            W = big + int(rng.integers(2, 10))
        locs = _inside_locations(rng, N, H, W, big)
        if border:
            edge = rng.choice([-1.0, 1.0], size=(N, 2))
            which = rng.integers(0, 3, size=N)  # 0: x on an edge, 1: y on an edge, 2: a corner
            locs[which != 1, 0] = edge[which != 1, 0]
            locs[which != 0, 1] = edge[which != 0, 1]
        cases.append({"images": torch.from_numpy(rng.random((N, C, H, W))).to(dtype),
                      "locations": torch.from_numpy(locs).to(dtype),
                      "patch_size": patch, "n_scales": n_scales, "scale": 2})
    return cases


def _right_away_from_border(student_fn, images, P, K, s):
    """Whether ``student_fn`` matches the reference at locations whose patches all fit inside."""
    N, C, H, W = images.shape
    big = P * s ** (K - 1)
    if H < big or W < big:
        return False
    locs = torch.from_numpy(_inside_locations(np.random.default_rng(0), N, H, W, big)).to(images.dtype)
    try:
        got = student_fn(images.clone(), locs, P, K, s)
    except Exception:
        return False
    return _same(got, reference_glimpse(images, locs, P, K, s))


def _same(a, b):
    try:
        return tuple(a.shape) == tuple(b.shape) and torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-6)
    except Exception:
        return False


def check_glimpse(student_fn, cases, name="glimpse"):
    """Run ``student_fn(**case)`` on every case and compare it with the reference sensor; on a
    mismatch, say whether the (x, y) order or out-of-bounds cropping explains it."""
    for i, case in enumerate(cases):
        images, locs = case["images"], case["locations"]
        N, C, H, W = images.shape
        P, K, s = case["patch_size"], case["n_scales"], case["scale"]
        call = f"{name}(images, locations, patch_size={P}, n_scales={K}, scale={s}) [case {i + 1} of {len(cases)}]"
        inputs = {"images": images, "locations": locs}
        outside = reaches_outside(locs, H, W, P, K, s)
        try:
            got = call_student(student_fn, images.clone(), locs.clone(), P, K, s, name=call, inputs=inputs)
        except GradingError as err:
            if outside.any() and "not implemented" not in str(err):
                raise GradingError(f"{err}\n  The patches of {int(outside.sum())} of these {N} locations reach "
                                   f"outside the {H}x{W} image: your crop goes out of bounds.\n  hint: {HINT_PAD}"
                                   ) from None
            raise
        expected = reference_glimpse(images, locs, P, K, s)
        if not (torch.is_tensor(got) and tuple(got.shape) == tuple(expected.shape)):
            if torch.is_tensor(got) and outside.any() and got.ndim == 5 and tuple(got.shape[:3]) == (N, K, C):
                raise GradingError(f"{call}: wrong patch shape {tuple(got.shape)}, expected {tuple(expected.shape)}, "
                                   f"for locations whose patches reach outside the image: your crop goes out of bounds "
                                   f"(slicing past the border returns fewer pixels, negative indices wrap around)."
                                   f"\n  hint: {HINT_PAD}")
            check_shape(got, expected.shape, call, inputs)
        if _same(got, expected):
            assert_close(got, expected, call, inputs, rtol=1e-5, atol=1e-6)  # dtype and kind
            continue
        if _same(got, reference_glimpse(images, locs.flip(1), P, K, s)):
            raise GradingError(f"{call}: your patches are the reference's at the swapped locations (y, x): the "
                               f"(x, y) order is mixed up.\n  hint: {HINT_XY}\n  Got {describe(got)}.")
        if outside.any() and _right_away_from_border(student_fn, images, P, K, s):
            raise GradingError(f"{call}: right away from the border but wrong for these locations, whose "
                               f"patches reach outside the {H}x{W} image: the crops go out of bounds (shifted "
                               f"inside, clipped or wrapped around instead of zero-padded).\n  hint: {HINT_PAD}")
        assert_close(got, expected, call, inputs, rtol=1e-5, atol=1e-6,
                     hint="average each patch of side P * scale**k over blocks of scale**k x scale**k pixels "
                          "(avg-pool), and stack the scales along dim 1: (N, K, C, P, P).")
