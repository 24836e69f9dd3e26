"""A character-level language model (Karpathy, "The unreasonable effectiveness of RNNs", 2015):
training with truncated BPTT and teacher forcing, bits per character, sampling with a temperature
and a stop rule.

p(x_1, ..., x_T) = prod_t p(x_t | x_{<t}); the network reads x_{<t} one character at a time and its
output o_t = c + V h_t gives p(x_{t+1} | x_{<=t}) = softmax(o_t). Notation: B batch (parallel
streams), T time (characters per chunk), E embedding size, H hidden units, K vocabulary size.

* Teacher forcing (deck 004): during training the true previous character is the input, never the
  model's own sample.
* Truncated BPTT: the training text is cut into B parallel streams, read in chunks of T characters;
  the hidden state is carried from one chunk to the next but detached, so gradients flow back at most
  T steps.
* Sampling: draw x_{t+1} ~ softmax(o_t / temperature) and feed it back; stop at the end-of-file symbol
  ``EOS``, at a stop string, or after ``max_len`` characters.
* Bits per character: the mean of -log2 p(x_{t+1} | x_{<=t}) over held-out text.
"""
import math
import time

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .device import get_device
from .sequence_data import ALPHABET, EOS


class CharVocab:
    """Characters <-> integer ids over :data:`reference_impl.sequence_data.ALPHABET` (K symbols)."""

    def __init__(self, alphabet=ALPHABET):
        self.chars = list(alphabet)
        self.index = {ch: i for i, ch in enumerate(self.chars)}
        self.eos = self.index[EOS]

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        """str of length L -> int64 tensor of shape (L,). Unknown characters raise KeyError naming them."""
        try:
            return torch.tensor([self.index[ch] for ch in text], dtype=torch.long)
        except KeyError as exc:
            raise KeyError(f"character {exc.args[0]!r} is not in the vocabulary; clean the text with "
                           f"sequence_data.clean_text first") from None

    def decode(self, ids):
        """ids (L,) -> str."""
        return "".join(self.chars[int(i)] for i in ids)


class CharLM(nn.Module):
    """Embedding -> one recurrent layer (``torch.nn.LSTM`` or ``torch.nn.RNN``) -> linear readout.

    forward(ids, state=None):
        ids: (B, T) int64. Returns logits (B, T, K) and the final state (h, or (h, c) for an LSTM).
    """

    def __init__(self, vocab_size, hidden_size=256, embed_size=32, cell="lstm", device=None):
        super().__init__()
        if cell not in ("lstm", "rnn"):
            raise ValueError(f"cell must be 'lstm' or 'rnn', got {cell!r}")
        self.cell = cell
        self.embed = nn.Embedding(vocab_size, embed_size)
        rnn_cls = nn.LSTM if cell == "lstm" else nn.RNN
        self.rnn = rnn_cls(embed_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)
        self.to(get_device(device))

    @property
    def device(self):
        return self.head.weight.device

    def forward(self, ids, state=None):
        h, state = self.rnn(self.embed(ids), state)  # (B, T, H)
        return self.head(h), state


def _detach(state):
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def batchify(ids, batch_size):
    """Cut a 1-D id tensor (L,) into ``batch_size`` contiguous streams: (B, L // B)."""
    n = len(ids) // batch_size
    if n < 2:
        raise ValueError(f"text of {len(ids)} characters is too short for {batch_size} streams")
    return ids[: n * batch_size].view(batch_size, n)


def train_char_lm(model, train_ids, steps=None, seconds=None, batch_size=32, bptt=128, lr=3e-3,
                  clip=1.0, log_every=50, progress=True):
    """Train with Adam, teacher forcing and truncated BPTT until ``steps`` updates or ``seconds`` pass.

    Inputs:
        model: a :class:`CharLM` (trained on its own device).
        train_ids: int64 tensor of shape (L,).
        steps / seconds: stop after this many updates or this much wall time (whichever comes first;
            at least one must be given).
        bptt: T, characters per chunk (gradients flow back at most T steps).
        clip: max global gradient norm (``torch.nn.utils.clip_grad_norm_``), None for no clipping.
    Returns:
        history: dict with "step", "loss" (training bits/char of logged steps), "seconds", "chars".
    """
    if steps is None and seconds is None:
        raise ValueError("give steps= or seconds=")
    dev = model.device
    data = batchify(train_ids, batch_size).to(dev)  # (B, L')
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"step": [], "loss": [], "seconds": [], "chars": 0}
    state, pos, step, t0, running = None, 0, 0, time.time(), []
    bar = tqdm(total=steps, desc="char-LM training", disable=not progress)
    model.train()
    while (steps is None or step < steps) and (seconds is None or time.time() - t0 < seconds):
        if pos + bptt + 1 > data.shape[1]:
            pos, state = 0, None
        x, y = data[:, pos:pos + bptt], data[:, pos + 1:pos + bptt + 1]
        logits, state = model(x, _detach(state))
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        pos += bptt
        step += 1
        history["chars"] += x.numel()
        running.append(loss.item() / math.log(2))
        if step % log_every == 0 or step == steps:
            history["step"].append(step)
            history["loss"].append(float(np.mean(running)))
            history["seconds"].append(time.time() - t0)
            bar.set_postfix(bits_per_char=f"{history['loss'][-1]:.3f}")
            running = []
        bar.update(1)
    bar.close()
    history["steps"] = step
    history["total_seconds"] = time.time() - t0
    return history


@torch.no_grad()
def bits_per_char(model, ids, batch_size=16, bptt=256):
    """Mean -log2 p(x_{t+1} | x_{<=t}) over ``ids`` (L,), read as ``batch_size`` streams with the
    state carried across chunks (the first character of each stream is not predicted)."""
    model.eval()
    data = batchify(ids, batch_size).to(model.device)
    total, count, state = 0.0, 0, None
    for pos in range(0, data.shape[1] - 1, bptt):
        x = data[:, pos:pos + bptt]
        y = data[:, pos + 1:pos + bptt + 1]
        x = x[:, : y.shape[1]]
        logits, state = model(x, state)
        total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                             reduction="sum").item()
        count += y.numel()
    return total / count / math.log(2)


@torch.no_grad()
def sample(model, vocab, prime="\n", max_len=500, temperature=1.0, stop=(), seed=0):
    """Generate text: feed ``prime``, then draw from softmax(logits / temperature) and feed back.

    Stop rule: the end-of-file symbol was drawn, the text ends with one of the strings in ``stop``,
    or ``max_len`` characters were generated.

    Returns:
        (text, reason): the generated characters (without ``prime`` and without EOS) and why it stopped:
        "eos", "stop string", or "max_len".
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    model.eval()
    gen = torch.Generator(device="cpu").manual_seed(seed)
    ids = vocab.encode(prime).to(model.device)[None]  # (1, L)
    logits, state = model(ids)
    out = []
    for _ in range(max_len):
        probs = torch.softmax(logits[0, -1].double().cpu() / temperature, dim=-1)
        nxt = int(torch.multinomial(probs, 1, generator=gen))
        if nxt == vocab.eos:
            return "".join(out), "eos"
        out.append(vocab.chars[nxt])
        text = "".join(out)
        if any(text.endswith(s) for s in stop):
            return text, "stop string"
        logits, state = model(torch.tensor([[nxt]], device=model.device), state)
    return "".join(out), "max_len"


@torch.no_grad()
def unit_activations(model, ids):
    """Hidden activations after every character of ``ids`` (L,), from a zero state.

    For an LSTM, ``torch.nn.LSTM`` returns h_t for every step but only the last cell state; the cell
    states are recovered exactly from the h_t: the gates at step t depend only on x_t and h_{t-1}
    (torch's order i, f, g, o), and c_t = f_t * c_{t-1} + i_t * g_t.

    Returns:
        dict of (L, H) float arrays: "h" (hidden state), and for an LSTM also "c" (cell state,
        squashed by tanh as in Karpathy et al. 2015). Row t is the state after reading ids[t].
    """
    model.eval()
    emb = model.embed(ids.to(model.device))  # (L, E)
    h, _ = model.rnn(emb[None])
    h = h[0]  # (L, H)
    if model.cell == "rnn":
        return {"h": h.cpu().numpy()}
    r = model.rnn
    h_prev = torch.cat([h.new_zeros(1, h.shape[1]), h[:-1]])
    gates = emb @ r.weight_ih_l0.T + r.bias_ih_l0 + h_prev @ r.weight_hh_l0.T + r.bias_hh_l0  # (L, 4H)
    i, f, g, _ = gates.chunk(4, dim=1)
    i, f, g = (torch.sigmoid(i).cpu().numpy(), torch.sigmoid(f).cpu().numpy(), torch.tanh(g).cpu().numpy())
    c = np.empty_like(i)
    c_t = np.zeros(i.shape[1], dtype=i.dtype)
    for t in range(len(c)):  # an elementwise recurrence: cheap in NumPy
        c_t = f[t] * c_t + i[t] * g[t]
        c[t] = c_t
    return {"h": h.cpu().numpy(), "c": np.tanh(c)}
