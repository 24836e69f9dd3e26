"""Module 03: the reference LSTM layer against PyTorch's fused torch.nn.LSTM (speed), and LSTM/GRU/RNN
on the adding problem at T = 100 (quality within a CPU-time budget).

    python benchmarks/bench_03_lstm_gru.py                  # speed and quality
    python benchmarks/bench_03_lstm_gru.py --speed-only
    python benchmarks/bench_03_lstm_gru.py --quality-minutes 3

Speed: median of interleaved repetitions (each implementation timed in turn, so that load from other
processes hits all of them alike), forward under torch.no_grad() and forward+backward of out.sum(),
float32, torch.set_num_threads(2). Implementations: ``reference_impl.recurrent_layers.LSTM`` as written
(Python loop over ``xi.unbind(0)``), the same layer with TorchScript (``scripted=True``), and -- for
comparison of the trap the module docstring describes -- the loop indexing ``xi[t]``.
"""
import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmarks.common import machine, table, write_section  # noqa: E402
from reference_impl import recurrent_layers as rl  # noqa: E402
from reference_impl import sequence_tasks  # noqa: E402
from reference_impl.cells import lstm_update  # noqa: E402

SIZES = [(50, 32, 64, 128), (100, 64, 128, 256)]


def lstm_layer_indexed(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
    """The trap: the same loop as rl.lstm_layer, but indexing xi[t] instead of walking xi.unbind(0)."""
    xi = F.linear(x, weight_ih, bias_ih)
    h, c = h0, c0
    out = []
    for t in range(x.shape[0]):
        h, c = lstm_update(xi[t] + F.linear(h, weight_hh, bias_hh), c)
        out.append(h)
    return torch.stack(out), h, c


class IndexedLSTM(rl.LSTM):
    def _run(self, x, state, layer, reverse):
        return lstm_layer_indexed(x, state[0], state[1], *self.weights(layer, reverse))


def time_speed(reps, device):
    rows = []
    for T, B, D, H in SIZES:
        torch.manual_seed(0)
        ref = torch.nn.LSTM(D, H).to(device)
        impls = {"torch.nn.LSTM": ref}
        for name, cls, kw in (("reference (Python loop)", rl.LSTM, {}),
                              ("reference, TorchScript", rl.LSTM, {"scripted": True}),
                              ("loop indexing xi[t] (trap)", IndexedLSTM, {})):
            m = cls(D, H, device=device, **kw)
            m.load_state_dict(ref.state_dict())
            impls[name] = m
        x = torch.randn(T, B, D, device=device)
        with torch.no_grad():  # same function before timing anything
            base = ref(x)[0]
            for name, m in impls.items():
                err = (m(x)[0] - base).abs().max().item()
                assert err < 1e-4, f"{name} differs from torch.nn.LSTM by {err}"

        def fwd(m):
            with torch.no_grad():
                m(x)

        def fwd_bwd(m):
            m(x)[0].sum().backward()

        for mode, fn in (("forward", fwd), ("forward+backward", fwd_bwd)):
            for m in impls.values():  # warm-up (TorchScript profiles its first runs)
                for _ in range(3):
                    fn(m)
            times = {name: [] for name in impls}
            for _ in range(reps):
                for name, m in impls.items():
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    fn(m)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    times[name].append(time.perf_counter() - t0)
            med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
            for name in impls:
                rows.append((f"({T}, {B}, {D}, {H})", mode, name, f"{med[name]:.1f}",
                             f"{med[name] / med['torch.nn.LSTM']:.2f}x"))
            print(rows[-len(impls):], flush=True)
    return rows


def time_quality(minutes, device):
    """Train RNN, LSTM (b_f = 1) and GRU on the adding problem at T = 100 until test MSE <= 0.01 or the
    CPU-time budget runs out; test MSE on 1000 fresh sequences every 50 steps."""
    T, H, lr, batch = 100, 64, 2e-3, 64
    rows = []
    for label, kind, fb in (("LSTM, b_f = 1", "lstm", 1.0), ("GRU", "gru", None), ("RNN (tanh)", "rnn", None)):
        torch.manual_seed(0)
        model = rl.ManyToOne(rl.make_layer(kind, 2, H, forget_bias=fb, device=device), 1, device=device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        cpu0, step, reached, mse = time.process_time(), 0, None, math.nan
        while time.process_time() - cpu0 < 60 * minutes:
            x, y = sequence_tasks.adding_problem(batch, T, seed=step, device=device)
            loss = F.mse_loss(model(x).squeeze(-1), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if step % 50 == 0:
                mse, _ = sequence_tasks.evaluate(model, "adding", T, device=device)
                if mse <= 0.01:
                    reached = (time.process_time() - cpu0) / 60
                    break
        rows.append((label, step, f"{mse:.4f}", f"{reached:.1f}" if reached else f"not within {minutes:g}"))
        print(rows[-1], flush=True)
    return rows, dict(T=T, H=H, lr=lr, batch=batch)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--speed-only", action="store_true")
    p.add_argument("--quality-only", action="store_true")
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--quality-minutes", type=float, default=8.0)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    device = torch.device("cpu")
    cmd = "python benchmarks/bench_03_lstm_gru.py " + " ".join(argv if argv is not None else sys.argv[1:])
    load = os.getloadavg()[0]
    text = (f"## 03_lstm_gru\n\nMachine: {machine()}. A shared machine (other jobs were running; 1-minute "
            f"load average {load:.1f} at the start): treat timings as indicative.\nCommand: `{cmd.strip()}`\n\n")
    if not args.quality_only:
        rows = time_speed(args.reps, device)
        text += ("### Speed: reference LSTM layer vs torch.nn.LSTM (CPU, float32, 2 threads)\n\n"
                 f"Median of {args.reps} interleaved repetitions; ratio = time / time of torch.nn.LSTM. "
                 "(T, B, D, H) = time steps, batch, input, hidden; one layer, unidirectional. torch.compile "
                 "was not measured (see the module's report); TorchScript is the compiled version.\n\n")
        text += table(["(T, B, D, H)", "pass", "implementation", "ms", "ratio"], rows) + "\n"
    if not args.speed_only:
        rows, cfg = time_quality(args.quality_minutes, device)
        text += ("### Quality: the adding problem at T = 100 (predicting the mean: MSE 0.167)\n\n"
                 f"One layer, H = {cfg['H']}, Adam lr {cfg['lr']}, batch {cfg['batch']}, gradient norm clipped "
                 f"to 1, fresh batches; test MSE on 1000 new sequences every 50 steps; training stops at "
                 f"MSE <= 0.01 or after {args.quality_minutes:g} CPU minutes (process time, both threads "
                 f"counted). Reference layers (rl.LSTM / rl.GRU, a Python loop over RNNCell for the RNN).\n\n")
        text += table(["model", "steps", "last test MSE", "CPU minutes to MSE <= 0.01"], rows) + "\n"
    write_section("03_lstm_gru", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
