"""Module 02 quality benchmarks: an echo state network on Mackey–Glass, and a character LSTM on the
Python standard library (held-out bits/char after a fixed wall-clock budget, and the best
"inside a string" unit).

    python benchmarks/bench_02_rnn_bptt.py                    # 5-minute char-LM budget, 2 torch threads
    python benchmarks/bench_02_rnn_bptt.py --minutes 1 --skip-lecture

Writes benchmarks/results/02_rnn_bptt.md.
"""
import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from reference_impl import char_lm, probing, reservoir, sequence_data  # noqa: E402
from reference_impl.config import seed_everything  # noqa: E402

FREE_RUN_THRESHOLD = 0.1  # a free run "tracks" while |error| <= 0.1 * std of the series


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def bench_esn(seeds=(0, 1, 2, 3, 4), n_train=2000, n_test=1000, n_free=2000):
    series = sequence_data.mackey_glass(n_train + max(n_test, n_free) + 2) - 1.0
    rows = []
    for seed in seeds:
        t0 = time.time()
        esn = reservoir.EchoStateNetwork(n_reservoir=500, rho=1.25, leak=0.3, ridge=1e-8, washout=100, seed=seed)
        esn.fit(series[:n_train, None], series[1:n_train + 1, None])
        one = esn.predict(series[:n_train + n_test, None])[n_train:, 0]
        nrmse = reservoir.nrmse(one, series[n_train + 1:n_train + n_test + 1])
        free = esn.generate(n_free)[:, 0]
        truth = series[n_train:n_train + n_free]
        horizon = reservoir.free_run_horizon(free, truth, FREE_RUN_THRESHOLD)
        nrmse_100 = reservoir.nrmse(free[:100], truth[:100])
        rows.append((seed, f"{nrmse:.2e}", f"{horizon}{'+' if horizon == n_free else ''}", f"{nrmse_100:.2e}",
                     f"{time.time() - t0:.1f}"))
        print(rows[-1], flush=True)
    return rows


def bench_char_lm(minutes, hidden, threads):
    torch.set_num_threads(threads)
    seed_everything(0)
    corpus = sequence_data.load_python_corpus()
    vocab = char_lm.CharVocab()
    model = char_lm.CharLM(len(vocab), hidden_size=hidden, embed_size=32, cell="lstm", device="cpu")
    c0, w0 = cpu_seconds(), time.time()
    hist = char_lm.train_char_lm(model, vocab.encode(corpus.train_text), seconds=60 * minutes, batch_size=32,
                                 bptt=128, lr=3e-3, log_every=100, progress=False)
    train_cpu, train_wall = cpu_seconds() - c0, time.time() - w0
    bpc = char_lm.bits_per_char(model, vocab.encode(corpus.heldout_text))
    text, in_string = probing.labelled_sources(corpus.heldout_text.split(sequence_data.EOS), 30_000)
    acts = char_lm.unit_activations(model, vocab.encode(text))
    probe = {}
    for kind in ("c", "h"):
        auc = probing.auc_per_unit(acts[kind], in_string)
        u = int(probing.best_units(auc, 1, center=0.5)[0])
        pos = probing.correlation_per_unit(acts[kind], probing.position_in_line(text))
        ind = probing.correlation_per_unit(acts[kind], probing.indentation_depth(text))
        up, ui = int(probing.best_units(pos, 1)[0]), int(probing.best_units(ind, 1)[0])
        probe[kind] = dict(unit=u, auc=auc[u], auc_oriented=max(auc[u], 1 - auc[u]), pos_unit=up, pos=pos[up],
                           ind_unit=ui, ind=ind[ui])
    sample, why = char_lm.sample(model, vocab, "def ", max_len=300, temperature=0.8, stop=("\n\n",), seed=0)
    return dict(corpus=corpus, hist=hist, train_cpu=train_cpu, train_wall=train_wall, bpc=bpc, probe=probe,
                n_probe=len(text), frac_string=float(in_string.mean()), sample="def " + sample, why=why)


def time_lecture():
    from nbclient import NotebookClient
    import nbformat

    path = common.ROOT / "lectures" / "02_rnn_bptt.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    env = dict(os.environ)
    os.environ.update(COURSE_FAST="0", MPLBACKEND="Agg", PYTHONPATH=str(common.ROOT))
    t0 = time.time()
    try:
        NotebookClient(nb, timeout=1200, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env)
    return time.time() - t0


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5.0, help="char-LM training budget (wall clock)")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-lecture", action="store_true")
    args = ap.parse_args(argv)
    command = "python benchmarks/bench_02_rnn_bptt.py " + " ".join(argv)
    load_before = os.getloadavg()

    esn_rows = bench_esn()
    lm = bench_char_lm(args.minutes, args.hidden, args.threads)
    load_after = os.getloadavg()
    text = section(args, command, esn_rows, lm, load_before, load_after)
    common.write_section("02_rnn_bptt", text)  # written before the lecture run, which may fail on its own
    if not args.skip_lecture:
        lecture_s = time_lecture()
        text += f"""
### Lecture in full mode

`lectures/02_rnn_bptt.ipynb` executed top to bottom with COURSE_FAST=0 (nbclient): **{lecture_s:.0f} s**
(target < 600 s; its char-LM trains for 240 s of that).
"""
        common.write_section("02_rnn_bptt", text)


def section(args, command, esn_rows, lm, load_before, load_after):
    """The markdown section for benchmarks/results/02_rnn_bptt.md."""
    h = lm["hist"]
    p = lm["probe"]
    text = f"""
## 02_rnn_bptt — echo state network, character LM, unit probing

Machine: {common.machine()}.
Command: `{command.strip()}`. **Shared machine**: other developers' jobs ran at the same time (1-minute
load average {load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} cores), so wall-clock
budgets bought less compute than on an idle machine; the CPU time actually used is reported.

### Echo state network on Mackey–Glass (tau = 17)

Series: `sequence_data.mackey_glass`, RK4 with dt = 0.1, one sample per time unit, minus 1.0. ESN: 500
units, spectral radius 1.25, leak 0.3, density 0.1, ridge 1e-8, washout 100; readout fitted on 2000
steps with the true series as input (teacher forcing). One-step NRMSE = RMSE / std over the next 1000
steps. Free run: from the state at the end of training, each output is fed back as the next input; it
**tracks the series for H steps** when |prediction − truth| <= {FREE_RUN_THRESHOLD} × std(series) at every one of
the first H steps (`reservoir.free_run_horizon`; "2000+" = never left the band in the 2000 steps
generated). Targets: NRMSE <= 0.01 and H >= 100.

{common.table(["reservoir seed", "one-step NRMSE", "free-run horizon (steps)", "free-run NRMSE, first 100 steps", "seconds"], esn_rows)}
### Character LSTM on the Python standard library

Corpus: `sequence_data.load_python_corpus()` — {len(lm['corpus'].train_text):,} training characters from
{len(lm['corpus'].train_files)} files, {len(lm['corpus'].heldout_text):,} held-out characters from
{len(lm['corpus'].heldout_files)} other files (every 10th file in sorted order), {len(char_lm.CharVocab())} symbols.
Model: embedding 32 → LSTM {args.hidden} → linear; Adam lr 3e-3, batch 32 streams, truncated BPTT
of 128 characters, gradient norm clipped at 1; {args.threads} torch threads.

{common.table(["budget", "updates", "characters read", "training CPU time", "held-out bits/char"], [(
        f"{args.minutes:g} min wall clock", h['steps'], f"{h['chars']:,}", f"{lm['train_cpu']:.0f} s (of {lm['train_wall']:.0f} s wall)",
        f"**{lm['bpc']:.3f}**")])}
Target: <= 2.0 bits/char (uniform: {np.log2(len(char_lm.CharVocab())):.2f}).

Unit probing on the first {lm['n_probe']:,} held-out characters (whole files tokenized; {lm['frac_string']:.1%} of
the characters are inside string literals). AUC of the best unit as a detector of "inside a string"
(a unit that is *low* inside strings has AUC < 0.5; the oriented value is max(AUC, 1 − AUC)); Pearson
correlation of the best units with position in line and indentation depth.

{common.table(["activations", "best string unit", "AUC", "oriented AUC", "position-in-line unit (corr.)", "indentation unit (corr.)"],
              [(k + (" (tanh of cell state)" if k == "c" else " (hidden state)"), p[k]['unit'], f"{p[k]['auc']:.3f}",
                f"**{p[k]['auc_oriented']:.3f}**", f"{p[k]['pos_unit']} ({p[k]['pos']:+.3f})", f"{p[k]['ind_unit']} ({p[k]['ind']:+.3f})")
               for k in ("c", "h")])}
Target: AUC >= 0.9. Sample at temperature 0.8, primed with `def `, stop rule: a blank line, EOS or 300
characters (stopped: {lm['why']}):

```
{lm['sample']}
```
"""
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
