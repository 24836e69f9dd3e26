"""Module 01: attack strength, defense quality and attack speed, on the digits and on Fashion-MNIST.

    python benchmarks/bench_01_adversarial_examples.py          # full mode (what the results table holds)
    COURSE_FAST=1 python benchmarks/bench_01_adversarial_examples.py   # a smoke run, small budgets

Writes benchmarks/results/01_adversarial_examples.md. Speed: our attacks against torchattacks 3.5.1 on the
same model and the same batch (median of 3 runs, 1 torch thread). Quality: the same measurements as the
papers' MNIST anchors, on scikit-learn's 8x8 digits and (when Debian's dataset-fashion-mnist is installed)
on real Fashion-MNIST, beside the anchors.
"""
import statistics
import sys
import time
from functools import partial

import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, table, write_section  # noqa: E402
from reference_impl import attacks, classifiers, config, data, defenses  # noqa: E402

torch.set_num_threads(1)
B = config.budget


def l2_stats(model, x, y, adv):
    fooled = classifiers.predict(model, adv) != y
    norms = (adv - x).flatten(1).norm(dim=1)
    rel = norms / x.flatten(1).norm(dim=1)
    f = fooled
    return f.float().mean().item(), norms[f].mean().item(), rel[f].mean().item()


def quality(name, split, image_size, epochs, n_eval, n_cw, n_jsma, adv_epochs):
    config.seed_everything(0)
    cnn = classifiers.SmallCNN(image_size)
    t0 = time.time()
    h = classifiers.train(cnn, split, epochs, device="cpu", progress=False)
    train_s = time.time() - t0
    x, y = split.x_test[:n_eval], split.y_test[:n_eval]
    res = {"clean": classifiers.accuracy(cnn, x, y), "train_s": train_s, "epochs": epochs,
           "n_train": len(split.x_train), "n_eval": n_eval, "test_acc_full": h["test_accuracy"]}
    g = torch.Generator().manual_seed(0)
    for eps in (0.1, 0.2, 0.3):
        res[f"fgsm{eps}"] = classifiers.accuracy(cnn, attacks.fgsm(cnn, x, y, eps), y)
        res[f"pgd{eps}"] = classifiers.accuracy(cnn, attacks.pgd(cnn, x, y, eps, 2.5 * eps / 40, 40, generator=g), y)
    ok = classifiers.predict(cnn, x) == y
    xc, yc = x[ok], y[ok]
    res["deepfool"] = l2_stats(cnn, xc, yc, attacks.deepfool(cnn, xc, yc))
    res["deepfool_cw_subset"] = l2_stats(cnn, xc[:n_cw], yc[:n_cw], attacks.deepfool(cnn, xc[:n_cw], yc[:n_cw]))
    res["cw"] = l2_stats(cnn, xc[:n_cw], yc[:n_cw],
                         attacks.cw_l2(cnn, xc[:n_cw], yc[:n_cw], c=1.0, steps=B(200, 20), lr=0.05,
                                       binary_search_steps=B(9, 2)))
    t = (yc[:n_jsma] + 1) % 10
    js = attacks.jsma(cnn, xc[:n_jsma], t, theta=1.0, gamma=0.145)
    hit = classifiers.predict(cnn, js) == t
    changed = ((js - xc[:n_jsma]).abs() > 1e-6).flatten(1).float().mean(1)
    res["jsma"] = (hit.float().mean().item(), changed[hit].mean().item() if hit.any() else float("nan"))
    # PGD adversarial training at eps = 0.1 vs the standard model, both attacked by PGD-40 at 0.1
    config.seed_everything(0)
    robust = classifiers.SmallCNN(image_size)
    t0 = time.time()
    defenses.adversarial_train(robust, split, adv_epochs, method="pgd", eps=0.1, steps=B(7, 2), progress=False)
    res["adv_train_s"] = time.time() - t0
    res["adv_epochs"] = adv_epochs
    pgd01 = partial(attacks.pgd, eps=0.1, alpha=2.5 * 0.1 / 40, steps=40, generator=g)
    res["std_pgd01"] = defenses.robust_accuracy(cnn, x, y, pgd01)
    res["rob_pgd01"] = defenses.robust_accuracy(robust, x, y, pgd01)
    res["rob_clean"] = classifiers.accuracy(robust, x, y)
    return cnn, res


def timing(cnn, x, y):
    import torchattacks

    def med(fn):
        out = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return statistics.median(out)

    rows = []
    cases = [
        ("FGSM eps=0.1", lambda: attacks.fgsm(cnn, x, y, 0.1), lambda: torchattacks.FGSM(cnn, eps=0.1)(x, y)),
        ("PGD-40 eps=0.1, no random start", lambda: attacks.pgd(cnn, x, y, 0.1, 0.01, 40, random_start=False),
         lambda: torchattacks.PGD(cnn, eps=0.1, alpha=0.01, steps=40, random_start=False)(x, y)),
        ("DeepFool (50 steps, overshoot 0.02)", lambda: attacks.deepfool(cnn, x, y),
         lambda: torchattacks.DeepFool(cnn, steps=50, overshoot=0.02)(x, y)),
        ("C&W L2, one c (c=1, 100 steps)", lambda: attacks.cw_l2(cnn, x, y, c=1.0, steps=100, binary_search_steps=1),
         lambda: torchattacks.CW(cnn, c=1.0, steps=100)(x, y)),
    ]
    for name, ours, lib in cases:
        a, b = med(ours), med(lib)
        rows.append((name, f"{a * 1000:.1f}", f"{b * 1000:.1f}", f"{a / b:.2f}"))
    return rows


def pct(v):
    return f"{100 * v:.1f}%"


def main():
    t_start = time.time()
    digits = data.load("digits")
    cnn, dig = quality("digits", digits, 8, B(30, 2), B(450, 60), B(100, 10), B(100, 8), B(20, 1))
    x, y = digits.x_test[:100], digits.y_test[:100]
    speed = timing(cnn, x, y)
    try:
        fm = data.load("fashion_mnist")
        fm = fm.subset(n_train=B(10000, 500), n_test=B(1000, 50), seed=0)
        _, fash = quality("fashion_mnist", fm, 28, B(4, 1), B(1000, 50), B(50, 5), B(20, 3), B(2, 1))
    except data.DataUnavailableError as exc:
        fash = None
        print(f"Fashion-MNIST skipped: {exc}")

    def col(r, key, fmt=pct):
        return "n/a" if r is None else fmt(r[key])

    rows = [
        ("clean test accuracy", "98.1% (PyTorch FGSM tutorial LeNet); 98.8% (Madry PGD model)", col(dig, "clean"), col(fash, "clean")),
    ]
    for eps, anchor in ((0.1, "85.1%"), (0.2, "43.0%"), (0.3, "8.7%")):
        rows.append((f"accuracy under FGSM, eps = {eps}", f"{anchor} (tutorial LeNet)", col(dig, f"fgsm{eps}"), col(fash, f"fgsm{eps}")))
        rows.append((f"accuracy under PGD-40, eps = {eps}", "", col(dig, f"pgd{eps}"), col(fash, f"pgd{eps}")))
    rows += [
        ("DeepFool: success / mean ||r||_2 / mean ||r||_2/||x||_2", "- / 2.11 (C&W paper) / 0.20 (DeepFool paper, LeNet)",
         col(dig, "deepfool", lambda v: f"{pct(v[0])} / {v[1]:.3f} / {v[2]:.3f}"),
         col(fash, "deepfool", lambda v: f"{pct(v[0])} / {v[1]:.3f} / {v[2]:.3f}")),
        ("DeepFool on the C&W subset: success / mean L2", "",
         col(dig, "deepfool_cw_subset", lambda v: f"{pct(v[0])} / {v[1]:.3f}"),
         col(fash, "deepfool_cw_subset", lambda v: f"{pct(v[0])} / {v[1]:.3f}")),
        ("C&W L2 (binary search on c): success / mean L2", "100% / 1.76",
         col(dig, "cw", lambda v: f"{pct(v[0])} / {v[1]:.3f}"), col(fash, "cw", lambda v: f"{pct(v[0])} / {v[1]:.3f}")),
        ("JSMA (label -> label+1, gamma = 14.5%): success / pixels changed", "97% / 4.02%",
         col(dig, "jsma", lambda v: f"{pct(v[0])} / {pct(v[1])}"), col(fash, "jsma", lambda v: f"{pct(v[0])} / {pct(v[1])}")),
        ("standard model under PGD-40, eps = 0.1", "", col(dig, "std_pgd01"), col(fash, "std_pgd01")),
        ("PGD-trained (eps = 0.1) model: clean / under PGD-40, eps = 0.1", "98.8% / 89.3% at eps = 0.3 (Madry, PGD-100 x 20 restarts)",
         col(dig, "rob_clean") + " / " + col(dig, "rob_pgd01"),
         (col(fash, "rob_clean") + " / " + col(fash, "rob_pgd01")) if fash else "n/a"),
    ]

    def setup(r):
        if r is None:
            return "not run"
        return (f"SmallCNN, {r['epochs']} epochs on {r['n_train']} training images ({r['train_s']:.0f} s), "
                f"measured on {r['n_eval']} test images; PGD training {r['adv_epochs']} epochs ({r['adv_train_s']:.0f} s)")

    text = f"""## 01_adversarial_examples

Machine: {machine()}. Shared machine (other jobs were running), so timings are indicative.
Command: `{'COURSE_FAST=1 ' if config.fast_mode() else ''}python benchmarks/bench_01_adversarial_examples.py` ({'fast' if config.fast_mode() else 'full'} mode, {time.time() - t_start:.0f} s).

Digits: {setup(dig)}. Fashion-MNIST (real files, Debian's dataset-fashion-mnist; a random subset): {setup(fash)}.
The anchors are MNIST numbers from the papers and the PyTorch tutorial; our models, data and budgets differ
(8x8 digits have 64 pixels, so L2 norms are not comparable in absolute terms; ||r||/||x|| is).

{table(["measurement", "anchor (MNIST)", "digits (ours)", "Fashion-MNIST (ours)"], rows)}
### Speed against torchattacks 3.5.1 (digits SmallCNN, batch of 100, CPU, 1 thread, median of 3)

{table(["attack", "ours (ms)", "torchattacks (ms)", "ratio"], speed)}
"""
    write_section("01_adversarial_examples", text)


if __name__ == "__main__":
    main()
