"""The retina of module 04 and the canvases it looks at.

* glimpse() equals an independent per-example computation (NumPy: explicit zero padding, slicing,
  block averages) on random images, sizes, channels and locations, including every border and corner;
* the (x, y) order and the pixel alignment are pinned by hand-made images;
* the canvases are deterministic under a seed, hold the digit where meta says, and clutter never
  erases it.
"""
import numpy as np
import pytest
import torch

from reference_impl import canvases
from reference_impl.glimpse import glimpse, glimpse_boxes, glimpse_centres, pixel_to_location


def explicit_glimpse(image, loc, patch_size, n_scales, scale):
    """One example, written out: pad with zeros, slice each square, average blocks. image: (C, H, W)."""
    image = np.asarray(image, dtype=np.float64)
    C, H, W = image.shape
    x, y = float(loc[0]), float(loc[1])
    col = min(max(int(np.floor((x + 1) / 2 * W)), 0), W - 1)
    row = min(max(int(np.floor((y + 1) / 2 * H)), 0), H - 1)
    out = []
    for k in range(n_scales):
        size = patch_size * scale ** k
        pad = size
        padded = np.pad(image, ((0, 0), (pad, pad), (pad, pad)))
        top, left = row - size // 2 + pad, col - size // 2 + pad
        patch = padded[:, top:top + size, left:left + size]
        assert patch.shape == (C, size, size)
        f = scale ** k
        pooled = np.zeros((C, patch_size, patch_size))
        for i in range(patch_size):
            for j in range(patch_size):
                pooled[:, i, j] = patch[:, i * f:(i + 1) * f, j * f:(j + 1) * f].mean(axis=(1, 2))
        out.append(pooled)
    return np.stack(out)  # (K, C, P, P)


BORDER = [-1.0, -0.999, -0.5, 0.0, 0.3, 0.999, 1.0]


@pytest.mark.parametrize("seed", range(6))
def test_glimpse_equals_explicit_slicing_with_padding(seed):
    rng = np.random.default_rng(seed)
    N = 12
    C = int(rng.integers(1, 4))
    H, W = int(rng.integers(5, 30)), int(rng.integers(5, 30))
    patch, n_scales, scale = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(2, 4))
    images = torch.from_numpy(rng.random((N, C, H, W)))
    locs = rng.uniform(-1, 1, size=(N, 2))
    locs[: len(BORDER), 0] = BORDER  # left/right borders and corners
    locs[-len(BORDER):, 1] = BORDER[::-1]  # top/bottom
    locs = torch.from_numpy(locs)
    got = glimpse(images, locs, patch, n_scales, scale)
    assert got.shape == (N, n_scales, C, patch, patch)
    assert got.dtype == images.dtype
    for n in range(N):
        want = explicit_glimpse(images[n].numpy(), locs[n].numpy(), patch, n_scales, scale)
        np.testing.assert_allclose(got[n].numpy(), want, rtol=1e-12, atol=1e-12, err_msg=f"example {n}")


def test_glimpse_float32_and_outside_locations_clamp():
    rng = np.random.default_rng(7)
    images = torch.from_numpy(rng.random((4, 1, 11, 9)).astype(np.float32))
    locs = torch.tensor([[-3.0, 0.0], [2.0, 5.0], [0.1, -1.5], [1.0, 1.0]])
    got = glimpse(images, locs, 3, 2, 2)
    assert got.dtype == torch.float32
    clamped = glimpse(images, locs.clamp(-1, 1), 3, 2, 2)
    torch.testing.assert_close(got, clamped)
    for n in range(4):
        want = explicit_glimpse(images[n].numpy(), locs[n].clamp(-1, 1).numpy(), 3, 2, 2)
        np.testing.assert_allclose(got[n].numpy(), want, rtol=1e-6, atol=1e-6)


def test_x_is_the_column_and_y_the_row():
    """A single bright pixel at row 2, column 6 of a 10x10 image is seen at location (x, y) = (0.3, -0.5)."""
    img = torch.zeros(1, 1, 10, 10)
    img[0, 0, 2, 6] = 1.0
    loc = pixel_to_location(2, 6, 10, 10)[None]
    torch.testing.assert_close(loc, torch.tensor([[0.3, -0.5]]))
    assert glimpse_centres(loc, 10, 10).tolist() == [[2, 6]]
    g = glimpse(img, loc, patch_size=1, n_scales=1)
    assert g.item() == 1.0
    swapped = glimpse(img, loc.flip(1), patch_size=1, n_scales=1)
    assert swapped.item() == 0.0
    # the corners: (-1, -1) is the top-left pixel, (1, 1) the bottom-right one
    img = torch.arange(100.0).view(1, 1, 10, 10)
    assert glimpse(img, torch.tensor([[-1.0, -1.0]]), 1, 1).item() == 0.0
    assert glimpse(img, torch.tensor([[1.0, 1.0]]), 1, 1).item() == 99.0
    assert glimpse(img, torch.tensor([[1.0, -1.0]]), 1, 1).item() == 9.0  # top-right: column 9, row 0


def test_border_glimpse_is_half_zero_padding():
    img = torch.ones(1, 1, 8, 8)
    g = glimpse(img, torch.tensor([[-1.0, 0.0]]), patch_size=4, n_scales=1)
    # centre column 0, columns -2..1: two of four columns are outside
    assert g[0, 0, 0].tolist() == [[0.0, 0.0, 1.0, 1.0]] * 4
    boxes = glimpse_boxes(torch.tensor([[-1.0, 0.0]]), 8, 8, patch_size=4, n_scales=2)
    assert boxes.tolist() == [[[2, -2, 4, 4], [0, -4, 8, 8]]]


def test_glimpse_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(x, y\)"):
        glimpse(torch.zeros(2, 1, 8, 8), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="N, C, H, W"):
        glimpse(torch.zeros(1, 8, 8), torch.zeros(1, 2))


# ----------------------------------------------------------------------------------------------
# canvases


def small_source():
    from reference_impl import data
    return data.load("digits").subset(200, 60, seed=0)


def test_canvases_are_deterministic_and_hold_the_digit():
    src = small_source()
    a = canvases.make_canvases("translated", source=src, n_train=50, n_test=20, seed=3)
    b = canvases.make_canvases("translated", source=src, n_train=50, n_test=20, seed=3)
    c = canvases.make_canvases("translated", source=src, n_train=50, n_test=20, seed=4)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    S, D = a.meta["canvas_size"], a.meta["digit_size"]
    assert a.x_train.shape == (50, 1, S, S) and D == 16 and S == 36
    # the digit sits where meta says: cutting it out gives an enlarged source image of the same label
    big = torch.nn.functional.interpolate(src.x_train, scale_factor=2, mode="nearest")
    for n in range(10):
        r, col = a.meta["pos_train"][n].tolist()
        cut = a.x_train[n, 0, r:r + D, col:col + D]
        assert cut.sum() == a.x_train[n].sum()  # nothing outside the digit
        match = [i for i in range(len(big)) if torch.equal(big[i, 0], cut)]
        assert match and all(src.y_train[i] == a.y_train[n] for i in match)


def test_clutter_adds_pieces_but_never_erases_the_digit():
    src = small_source()
    t = canvases.make_canvases("translated", source=src, n_train=40, n_test=10, seed=5)
    k = canvases.make_canvases("cluttered", source=src, n_train=40, n_test=10, seed=5)
    assert torch.equal(t.y_train, k.y_train) and torch.equal(t.meta["pos_train"], k.meta["pos_train"])
    assert (k.x_train >= t.x_train).all()  # pasted by maximum
    assert (k.x_train.sum((1, 2, 3)) > t.x_train.sum((1, 2, 3))).float().mean() > 0.8
    assert 0.0 <= k.x_train.min() and k.x_train.max() <= 1.0


def test_paste_drops_what_falls_off_the_canvas():
    canvas = torch.zeros(2, 1, 5, 5)
    img = torch.ones(2, 1, 3, 3)
    out = canvases.paste(canvas, img, torch.tensor([-1, 3]), torch.tensor([4, -2]))
    assert out[0, 0].sum() == 2 and out[0, 0, 0:2, 4].tolist() == [1, 1]
    assert out[1, 0].sum() == 2 and out[1, 0, 3:5, 0].tolist() == [1, 1]


def test_two_digit_canvases():
    src = small_source()
    d = canvases.make_two_digit_canvases(source=src, n_train=30, n_test=10, seed=1)
    assert d.num_classes == 19
    assert torch.equal(d.y_train, d.meta["digits_train"].sum(1))
    S = d.meta["canvas_size"]
    pos = d.meta["pos_train"]  # (N, 2 digits, (row, col))
    assert (pos[:, 0, 1] + 16 <= S // 2).all() and (pos[:, 1, 1] >= S // 2).all()


@pytest.mark.realdata
def test_fashion_mnist_canvases_when_installed():
    from reference_impl.data import DataUnavailableError
    try:
        d = canvases.make_canvases("cluttered", source="fashion_mnist", n_train=20, n_test=5, seed=0)
    except DataUnavailableError as exc:
        pytest.skip(str(exc))
    assert d.x_train.shape == (20, 1, 60, 60) and d.meta["fragment_size"] == 8


# ----------------------------------------------------------------------------------------------
# the grading diagnostics students see (reference_impl.glimpse_checks)


def _student_glimpse(images, locations, patch_size, n_scales, scale, swap=False, shift_inside=False, no_pad=False):
    """A per-example student-style retina with switchable classic mistakes."""
    import torch.nn.functional as F
    N, C, H, W = images.shape
    out = []
    for n in range(N):
        x, y = (locations[n, 1], locations[n, 0]) if swap else (locations[n, 0], locations[n, 1])
        col = int(min(max(np.floor((float(x) + 1) / 2 * W), 0), W - 1))
        row = int(min(max(np.floor((float(y) + 1) / 2 * H), 0), H - 1))
        scales = []
        for k in range(n_scales):
            size = patch_size * scale ** k
            top, left = row - size // 2, col - size // 2
            if shift_inside:
                top, left = min(max(top, 0), max(H - size, 0)), min(max(left, 0), max(W - size, 0))
            if no_pad:
                patch = images[n, :, top:top + size, left:left + size]
            else:
                big = F.pad(images[n], (size, size, size, size))
                patch = big[:, top + size:top + 2 * size, left + size:left + 2 * size]
            scales.append(F.avg_pool2d(patch[None], scale ** k)[0])
        out.append(torch.stack(scales))
    return torch.stack(out)


@pytest.mark.parametrize("mistake, border, message", [
    ("swap", False, "(x, y) order is mixed up"),
    ("swap", True, "(x, y) order is mixed up"),
    ("shift_inside", True, "crops go out of bounds"),
    ("no_pad", True, "crop goes out of bounds"),
])
def test_check_glimpse_names_the_mistake(mistake, border, message):
    from reference_impl.glimpse_checks import check_glimpse, glimpse_cases
    from reference_impl.grading import GradingError
    cases = glimpse_cases(seed=3, n=3, border=border)
    check_glimpse(_student_glimpse, cases)  # the right per-example version passes

    def wrong(*args):
        return _student_glimpse(*args, **{mistake: True})

    with pytest.raises(GradingError) as err:
        check_glimpse(wrong, cases)
    assert message in str(err.value), str(err.value)


def test_resampler_gives_fresh_canvases_of_the_same_kind():
    src = small_source()
    k = canvases.make_canvases("cluttered", source=src, n_train=30, n_test=10, seed=2)
    fresh = canvases.resampler(k, src)
    x1, y1 = fresh(1)
    x1b, _ = fresh(1)
    x2, _ = fresh(2)
    assert x1.shape == k.x_train.shape and y1.shape == k.y_train.shape
    assert torch.equal(x1, x1b) and not torch.equal(x1, x2) and not torch.equal(x1, k.x_train)
    two = canvases.make_two_digit_canvases(source=src, n_train=20, n_test=5, seed=0)
    xt, yt = canvases.resampler(two, src)(1)
    assert xt.shape == two.x_train.shape and int(yt.max()) <= 18
