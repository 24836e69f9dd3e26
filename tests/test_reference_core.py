"""Unit tests of reference_impl's core: device, config, data, grading, numerics (module 00)."""
import gzip
import importlib
import struct
import sys

import numpy as np
import pytest
import torch

from reference_impl import config, data, device, grading, numerics
from reference_impl.grading import GradingError


# ---------------------------------------------------------------------------------------------- device

def test_device_auto_and_forced(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device.get_device().type == expected
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert device.get_device() == torch.device("cpu")
    assert device.get_device("cpu") == torch.device("cpu")
    assert "torch" in device.describe("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is missing")
def test_device_cuda_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        device.get_device()


def test_device_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "gpu-please")
    with pytest.raises(ValueError, match="COURSE_DEVICE"):
        device.get_device()


# ---------------------------------------------------------------------------------------------- config

def test_fast_mode_and_budget(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    assert config.fast_mode() and config.budget(full=1000, fast=10) == 10
    monkeypatch.setenv("COURSE_FAST", "0")
    assert not config.fast_mode() and config.budget(full=1000, fast=10) == 1000
    monkeypatch.setenv("COURSE_FAST", "maybe")
    with pytest.raises(ValueError, match="COURSE_FAST"):
        config.fast_mode()


def test_seed_everything_repeats_all_generators():
    config.seed_everything(123)
    a = (np.random.rand(), torch.rand(3))
    config.seed_everything(123)
    b = (np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and torch.equal(a[1], b[1])
    with pytest.raises(TypeError):
        config.seed_everything(1.5)


# ---------------------------------------------------------------------------------------------- data

def test_digits_split_is_real_fixed_and_stratified():
    d = data.load("digits")
    assert d.x_train.shape[1:] == (1, 8, 8) and d.x_train.dtype == torch.float32
    assert len(d.x_train) + len(d.x_test) == 1797
    assert 0.0 <= float(d.x_train.min()) and float(d.x_train.max()) <= 1.0
    again = data.load("digits")
    assert torch.equal(d.x_test, again.x_test) and torch.equal(d.y_test, again.y_test)
    other = data.load("digits", seed=1)
    assert not torch.equal(d.y_test, other.y_test)
    counts = torch.bincount(d.y_test, minlength=10)
    assert counts.min() >= 40, f"test split is not stratified: {counts.tolist()}"
    sub = d.subset(n_train=100, n_test=50, seed=0)
    assert len(sub.x_train) == 100 and len(sub.x_test) == 50
    assert torch.equal(sub.x_train, d.subset(n_train=100, n_test=50, seed=0).x_train)


def test_registry_lists_and_rejects():
    names = data.available()
    assert {"digits", "mnist", "fashion_mnist"} <= set(names)
    with pytest.raises(KeyError, match="registered"):
        data.load("imagenet")


def _write_idx(path, array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


def test_read_idx_round_trip_and_corruption(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a-idx3-ubyte.gz", arr)
    assert np.array_equal(data.read_idx(tmp_path / "a-idx3-ubyte.gz"), arr)
    ints = np.array([1, -2, 300000], dtype=np.int32)
    _write_idx(tmp_path / "b-idx1", ints, code=0x0C)
    assert np.array_equal(data.read_idx(tmp_path / "b-idx1"), ints)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(tmp_path / "bad")
    raw = (tmp_path / "b-idx1").read_bytes()
    (tmp_path / "cut").write_bytes(raw[:-3])
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(tmp_path / "cut")


def _fake_family(folder, n_train=6, n_test=4):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for part, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(folder / f"{part}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)).astype(np.uint8))
        _write_idx(folder / f"{part}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))


def test_mnist_family_reads_system_dir_then_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    _fake_family(tmp_path / "sys" / "fashion-mnist")
    d = data.load("fashion_mnist", system_dirs=[tmp_path / "sys"])
    assert d.x_train.shape == (6, 1, 28, 28) and d.y_test.shape == (4,)
    assert d.classes[9] == "Ankle boot"
    assert (tmp_path / "cache" / "fashion_mnist.npz").is_file()
    # from the cache now, even with the system files gone
    import shutil
    shutil.rmtree(tmp_path / "sys")
    again = data.load("fashion_mnist", system_dirs=[tmp_path / "sys"])
    assert torch.equal(again.x_train, d.x_train)


def test_mnist_offline_error_names_alternatives(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_DOWNLOAD", raising=False)
    with pytest.raises(data.DataUnavailableError) as err:
        data.load("mnist", system_dirs=[tmp_path / "nothing"])
    msg = str(err.value)
    assert "load('digits')" in msg and "download=True" in msg
    with pytest.raises(data.DataUnavailableError, match="dataset-fashion-mnist"):
        data.load("fashion_mnist", system_dirs=[tmp_path / "nothing"])


def test_mnist_download_without_torchvision_is_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(data.DataUnavailableError, match="torchvision"):
        data.load("mnist", download=True, system_dirs=[tmp_path / "nothing"])


@pytest.mark.realdata
def test_real_fashion_mnist_from_debian_package(tmp_path, monkeypatch):
    """Real files from Debian's dataset-fashion-mnist (installed by .ci/run)."""
    if data._find_idx_dir(data.SYSTEM_DATA_DIRS[0] / "fashion-mnist") is None:
        pytest.skip("Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    d = data.load("fashion_mnist")
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert torch.bincount(d.y_train).tolist() == [6000] * 10
    assert 0.25 < float(d.x_train[:1000].mean()) < 0.35  # Fashion-MNIST's mean intensity is ~0.286
    assert d.source.startswith("/usr/share/datasets")


# ---------------------------------------------------------------------------------------------- grading

def test_assert_close_messages_name_what_went_wrong():
    x = np.ones((2, 3))
    with pytest.raises(GradingError, match=r"(?s)wrong shape: expected \(2, 3\), got \(3, 2\).*transpose"):
        grading.assert_close(np.ones((3, 2)), x, name="f(x)")
    with pytest.raises(GradingError, match="wrong dtype: expected float64, got float32"):
        grading.assert_close(x.astype(np.float32), x, name="f(x)")
    with pytest.raises(GradingError, match="expected a torch.Tensor"):
        grading.assert_close(x, torch.ones(2, 3, dtype=torch.float64), name="f(x)")
    bad = x.copy()
    bad[1, 2] = 1.5
    with pytest.raises(GradingError) as err:
        grading.assert_close(bad, x, name="f(x)", inputs={"x": x})
    msg = str(err.value)
    assert "index (1, 2)" in msg and "got 1.5" in msg and "expected 1" in msg and "shape (2, 3)" in msg
    assert "hidden tests" in msg
    nan = x.copy()
    nan[0, 0] = np.nan
    with pytest.raises(GradingError, match="NaN or inf"):
        grading.assert_close(nan, x, name="f(x)")
    with pytest.raises(GradingError, match="returned None"):
        grading.assert_close(None, x, name="f(x)")
    grading.assert_close(x + 1e-9, x, name="f(x)")
    grading.assert_close(2.0, 2.0 + 1e-12, name="scalar")
    with pytest.raises(GradingError, match="expected 3, got 2"):
        grading.assert_close(2.0, 3.0, name="scalar")


def test_compare_to_reference_reports_the_failing_case():
    def ref(x):
        return np.tanh(x)

    def wrong(x):
        return np.sin(x)

    cases = grading.random_cases(lambda rng, i: {"x": rng.standard_normal(3 + i)}, n=4, seed=0)
    grading.compare_to_reference(ref, ref, cases, name="tanh")
    with pytest.raises(GradingError, match=r"case 1 of 4"):
        grading.compare_to_reference(wrong, ref, cases, name="tanh")

    def broken(x):
        raise ValueError("operands could not be broadcast")

    with pytest.raises(GradingError, match="raised ValueError: operands could not be broadcast"):
        grading.compare_to_reference(broken, ref, cases, name="tanh")

    def todo(x):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented yet"):
        grading.compare_to_reference(todo, ref, cases, name="tanh")


def _student_direct(x):
    return numerics.softmax(x)


def _student_alias(x):
    f = numerics.softmax
    return f(x)


def _student_importlib(x):
    return importlib.import_module("reference_impl.numerics").softmax(x)


def _student_sys_modules(x):
    return sys.modules["reference_impl.numerics"].log_softmax(x)


def _student_own(x):
    e = np.exp(x - x.max())
    return e / e.sum()


@pytest.mark.parametrize("fn", [_student_direct, _student_alias, _student_importlib, _student_sys_modules])
def test_assert_independent_catches_every_route(fn):
    with pytest.raises(GradingError, match="reference implementation.*scores zero"):
        grading.assert_independent(fn, np.arange(3.0))


def test_assert_independent_passes_own_code_and_restores_profiler():
    out = grading.assert_independent(_student_own, np.arange(3.0))
    assert np.allclose(out, numerics.softmax(np.arange(3.0)))
    assert sys.getprofile() is None


# ---------------------------------------------------------------------------------------------- numerics

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_equals_torch(dtype):
    rng = np.random.default_rng(0)
    for shape, axis in [((5,), -1), ((4, 7), 1), ((3, 4, 5), 0), ((2, 3), -2)]:
        x = (5 * rng.standard_normal(shape)).astype(dtype)
        t = torch.from_numpy(x)
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(numerics.softmax(x, axis), torch.softmax(t, axis).numpy(), **tol)
        np.testing.assert_allclose(numerics.log_softmax(x, axis), torch.log_softmax(t, axis).numpy(), **tol)
        assert numerics.softmax(x, axis).dtype == dtype


def test_softmax_is_stable_at_extremes():
    x = np.array([[1000.0, 1001.0, -1000.0]])
    assert np.isfinite(numerics.softmax(x)).all()
    np.testing.assert_allclose(numerics.log_softmax(x), torch.log_softmax(torch.from_numpy(x), -1).numpy())


def test_cross_entropy_and_gradient_equal_torch_autograd():
    rng = np.random.default_rng(1)
    logits, targets = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    t = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(t, torch.from_numpy(targets))
    loss.backward()
    assert abs(numerics.cross_entropy(logits, targets) - loss.item()) < 1e-12
    assert numerics.rel_error(numerics.cross_entropy_backward(logits, targets), t.grad.numpy()) < 1e-12
    with pytest.raises(ValueError, match=r"shape \(N, C\)"):
        numerics.cross_entropy(logits[0], targets)
    with pytest.raises(TypeError, match="integers"):
        numerics.cross_entropy(logits, targets.astype(float))


def test_numeric_gradient_centred_accuracy_and_restores_input():
    rng = np.random.default_rng(2)
    logits, targets = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    before = logits.copy()
    num = numerics.numeric_gradient(lambda z: numerics.cross_entropy(z, targets), logits)
    assert np.array_equal(logits, before)
    assert numerics.rel_error(num, numerics.cross_entropy_backward(logits, targets)) < 1e-7
    with pytest.raises(TypeError, match="float"):
        numerics.numeric_gradient(lambda z: z.sum(), np.arange(3))


def test_registry_finds_providers_without_importing_them_first():
    """Data sets registered by topic modules (e.g. sequence_data) load by name from a fresh interpreter."""
    import subprocess

    code = ("from reference_impl import data, grading\n"
            "names = set(data.available())\n"
            "assert {'digits', 'mnist', 'fashion_mnist'} <= names, names\n"
            "print(sorted(names))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import pathlib
    import re as _re
    package = pathlib.Path(data.__file__).parent
    providers = [p.stem for p in package.glob("*.py") if p.stem != "data" and _re.search(r"data\.register\(", p.read_text())]
    registered = eval(proc.stdout.strip().splitlines()[-1])
    module_names = [n for p in providers for n in _re.findall(r'data\.register\(\s*"([^"]+)"', (package / f"{p}.py").read_text())]
    assert set(module_names) <= set(registered), f"not found by name: {set(module_names) - set(registered)}"


def test_compare_to_reference_copies_nested_inputs():
    def reference(xs):
        return np.concatenate(xs)

    def inplace_student(xs):
        xs[0] *= 0
        return np.concatenate(xs)

    cases = [{"xs": [np.ones(2), np.ones(3)]}]
    with pytest.raises(GradingError):
        grading.compare_to_reference(inplace_student, reference, cases, name="concat")
    assert cases[0]["xs"][0].tolist() == [1.0, 1.0], "the case's own arrays must not be modified"
