"""Module 05 quality benchmarks: attention vs the fixed-vector encoder-decoder, Luong's scores, length
generalization. Full mode (no COURSE_FAST); results go to benchmarks/results/05_nmt_attention.md.

    python benchmarks/bench_05_nmt_attention.py                # everything
    python benchmarks/bench_05_nmt_attention.py numbers dates  # some experiments

Experiments (each a fixed number of Adam steps, batch 64, one CPU thread, greedy decoding):
* numbers: English -> German number names 1..9999 (80/10/10 split), with additive attention and
  without attention; exact match overall and by source length (plot in 05_nmt_attention_length.png).
* dates: dates in 13 locales / 3 formats -> ISO 8601 with each attention score (additive, dot,
  general, concat).
* reversal: reverse random strings; trained on lengths 1..20, tested on 21..30 (length generalization),
  with and without attention.
"""
import json
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

from common import machine, table, write_section  # noqa: E402
from reference_impl import data, translation_data  # noqa: E402,F401  (registers the corpora)
from reference_impl import seq2seq as s2s  # noqa: E402

SLUG = "05_nmt_attention"
STATE = HERE / "results" / f"{SLUG}.json"
MODEL = dict(emb=32, hidden=64, attn_size=32)
STEPS = dict(numbers=700, dates=500, reversal=800)
EDGES = [0, 20, 28, 34, 40, 60]


def train_and_test(train, test, attention, steps, seed=0, level="char"):
    tr = s2s.build_translator(train, attention=attention, level=level, seed=seed, device="cpu", **MODEL)
    tr.max_len = max(len(t) for _, t in train + test) + 10
    res = s2s.train_seq2seq(tr.model, train, tr.src_tok, tr.tgt_tok, steps=steps, batch_size=64, lr=3e-3,
                            device="cpu", seed=seed, desc=f"{attention}")
    t0 = time.time()
    acc, outs = s2s.exact_match(tr, test)
    return tr, dict(acc=acc, train_s=res.seconds, eval_s=time.time() - t0, steps=steps,
                    final_loss=sum(res.losses[-50:]) / len(res.losses[-50:])), outs


def exp_numbers(state):
    corpus = data.load("numbers", src="en", tgt="de")
    out = {}
    for name, attention in [("additive attention", "additive"), ("no attention", None)]:
        _, r, outs = train_and_test(corpus.train, corpus.test, attention, STEPS["numbers"])
        r["by_length"] = s2s.accuracy_by_length(corpus.test, outs, EDGES)
        r["errors"] = [(s, o, t) for o, (s, t) in zip(outs, corpus.test) if o != t][:3]
        out[name] = r
        print(name, r["acc"], flush=True)
    state["numbers"] = out
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for name, r in out.items():
            ax.plot([f"{lo}-{hi - 1}" for lo, hi, *_ in r["by_length"]], [row[3] for row in r["by_length"]],
                    "o-", label=f"{name} ({r['acc']:.1%} overall)")
        ax.set_xlabel("English source length (characters)")
        ax.set_ylabel("exact match, test set")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title(f"en->de number names, {STEPS['numbers']} steps each")
        fig.tight_layout()
        fig.savefig(HERE / "results" / f"{SLUG}_length.png", dpi=90)
    except Exception as exc:  # the table is the result; the plot is a convenience
        print("plot failed:", exc)


def exp_dates(state):
    corpus = data.load("dates", n=20000)
    out = {}
    for kind in ("additive", "dot", "general", "concat"):
        _, r, outs = train_and_test(corpus.train, corpus.test, kind, STEPS["dates"])
        r["errors"] = [(s, o, t) for o, (s, t) in zip(outs, corpus.test) if o != t][:3]
        out[kind] = r
        print(kind, r["acc"], flush=True)
    state["dates"] = out


def reversal_pairs(n, low, high, seed):
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        s = "".join(rng.choice("abcdefghij") for _ in range(rng.randint(low, high)))
        pairs.append((s, s[::-1]))
    return pairs


def exp_reversal(state):
    train = reversal_pairs(20000, 1, 20, seed=0)
    test_in = reversal_pairs(500, 1, 20, seed=1)
    test_out = reversal_pairs(500, 21, 30, seed=2)
    out = {}
    for name, attention in [("additive attention", "additive"), ("no attention", None)]:
        tr, r, _ = train_and_test(train, test_in, attention, STEPS["reversal"])
        tr.max_len = 40
        r["acc_long"], _ = s2s.exact_match(tr, test_out)
        out[name] = r
        print(name, r["acc"], r["acc_long"], flush=True)
    state["reversal"] = out


def _run_line(state, name):
    run = state.get(name + "_run", {})
    return (f"\nMeasured {run.get('date', '?')} with `{run.get('command', '?')}` "
            f"({run.get('wall_minutes', float('nan')):.1f} wall-clock minutes for this section).\n")


def _quality_table(first, out):
    return table([first, "steps", "test exact match", "train loss (last 50)", "training minutes (wall clock)"],
                 [(k, r["steps"], f"{r['acc']:.2%}", f"{r['final_loss']:.4f}", f"{r['train_s'] / 60:.1f}")
                  for k, r in out.items()])


def report(state):
    lines = [f"## 05_nmt_attention: translation quality with and without attention\n",
             f"Machine: {machine()}. **Shared machine**: 2 cores used by several developers at once, so "
             f"times are upper bounds (one torch thread per run). Each section names the command that "
             f"produced it.\n",
             f"Model: bidirectional GRU encoder (H = {MODEL['hidden']} per direction), GRU decoder with "
             f"state 2H, embeddings {MODEL['emb']}, attention size {MODEL['attn_size']}; Adam lr 3e-3, "
             f"batch 64, gradient clipping 1; greedy decoding; exact match = the whole output string right.\n"]
    if "numbers" in state:
        out = state["numbers"]
        lines.append("### English -> German number names (1..9999; 7,999 train / 1,000 test)\n")
        lines.append(_quality_table("model", out))
        names = list(out)
        rows = []
        for i, (lo, hi, n, _) in enumerate(out[names[0]]["by_length"]):
            rows.append([f"{lo}-{hi - 1}", n] + [f"{out[k]['by_length'][i][3]:.1%}" for k in names])
        lines.append("\nExact match by source length (characters); plot: `05_nmt_attention_length.png`.\n")
        lines.append(table(["source length", "test sentences"] + names, rows))
        for n, r in out.items():
            if r["errors"]:
                lines.append(f"\nFirst errors, {n}: " + "; ".join(f"`{s}` -> `{o}` (not `{t}`)" for s, o, t in r["errors"]))
        accs = [r["acc"] for r in out.values()]
        if max(accs) - min(accs) < 0.01:
            lines.append("\nAt this budget the models are within 1% of each other: number names (at most 47 "
                         "characters) fit into the 128-unit final encoder state, so this corpus does not show the "
                         "fixed-vector bottleneck; the reversal task below (longer sequences, tested beyond the "
                         "training lengths) does.\n")
        lines.append(_run_line(state, "numbers"))
        lines.append("\nAnchor: Bahdanau et al. (2014), WMT'14 En->Fr, RNNsearch-50 26.75 vs RNNencdec-50 17.82 BLEU, "
                     "the gap growing with sentence length.\n")
    if "dates" in state:
        out = state["dates"]
        lines.append("### Dates (13 locales, 3 formats) -> ISO 8601, by attention score (16,000 train / 2,000 test)\n")
        lines.append(_quality_table("score", out))
        lines.append("\nOne training run (seed 0) per score; seed-to-seed variation was not measured, so gaps of a "
                     "fraction of a percent (1 test sentence = 0.05%) do not rank the scores.\n")
        lines.append(_run_line(state, "dates"))
        lines.append("\nAnchor: Luong et al. (2015), WMT'14 En->De global attention: dot 18.6 and general 17.3 BLEU "
                     "on par, concat not competitive.\n")
    if "reversal" in state:
        out = state["reversal"]
        lines.append("### Length generalization: reversing strings, trained on lengths 1-20\n")
        lines.append(table(["model", "steps", "exact match, lengths 1-20", "exact match, lengths 21-30", "training minutes (wall clock)"],
                           [(n, r["steps"], f"{r['acc']:.1%}", f"{r['acc_long']:.1%}", f"{r['train_s'] / 60:.1f}")
                            for n, r in out.items()]))
        lines.append(_run_line(state, "reversal"))
        lines.append("\nAnchor (issue 7): a quick earlier measurement on a toy reversal task, 71% vs 0% exact match "
                     "on lengths 21-30 after 3 CPU minutes.\n")
    write_section(SLUG, "\n".join(lines))


def rewrite_report():
    """Re-render the markdown from the stored measurements (no training)."""
    torch.set_num_threads(1)  # as in the runs, for the machine line
    report(json.loads(STATE.read_text()))


def main(argv):
    torch.set_num_threads(1)
    wanted = argv or ["numbers", "dates", "reversal"]
    state = {}
    command = "python benchmarks/bench_05_nmt_attention.py " + " ".join(argv)
    for name in wanted:
        t0 = time.time()
        {"numbers": exp_numbers, "dates": exp_dates, "reversal": exp_reversal}[name](state)
        run = dict(command=command.strip(), wall_minutes=(time.time() - t0) / 60, date=time.strftime("%Y-%m-%d"))
        # merge into what is on disk now: another run may have finished another experiment meanwhile
        on_disk = json.loads(STATE.read_text()) if STATE.is_file() else {}
        on_disk.update({name: state[name], name + "_run": run})
        STATE.write_text(json.dumps(on_disk, indent=1))
        report(on_disk)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
