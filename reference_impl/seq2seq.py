"""Encoder-decoder translation with and without attention; teacher forcing, scheduled sampling, beam search.

* Encoder (Sutskever et al. 2014; Cho et al. 2014): embeddings, a bidirectional GRU at the bottom,
  optionally more unidirectional layers with residual connections (the GNMT stack of Wu et al. 2016).
* Decoder: a GRU cell fed the previous target token and a context vector. Without attention the
  context is the encoder's final state, the same at every step (Cho et al. 2014): the whole sentence
  has to pass through one fixed-size vector. With attention (:mod:`reference_impl.attention`) the
  context is recomputed at every step from the previous decoder state and all encoder outputs
  (Bahdanau et al. 2014). Luong et al.'s dot / general / concat *scores* plug into the same wiring.
* Training: cross-entropy with teacher forcing, or scheduled sampling (Bengio et al. 2015): at step i
  each target input is the true token with probability ``eps_i`` and the model's own sample otherwise,
  ``eps_i`` decaying linearly, exponentially or as an inverse sigmoid.
* Decoding: greedy, or beam search with GNMT's length normalization ``lp(Y) = ((5 + |Y|) / 6)^alpha``.

Notation: B batch, S source length, T target length, V target vocabulary, E embedding size, H encoder
hidden size per direction, K = 2H encoder output size (also the decoder state size), K beams.
"""
import math
import random
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .attention import Attention
from .device import get_device
from .tokenizers import EOS_ID, PAD_ID, SOS_ID, CharTokenizer


# ----------------------------------------------------------------------------------------------
# model


@dataclass
class Seq2SeqConfig:
    """Sizes and choices of a :class:`Seq2Seq` model."""

    src_vocab: int
    tgt_vocab: int
    emb: int = 32               # E
    hidden: int = 64            # H per direction; encoder outputs and decoder states have K = 2H
    attention: object = "additive"  # None (fixed-vector bottleneck), additive, dot, general, concat
    enc_layers: int = 1         # layer 0 is bidirectional, the others unidirectional of size K
    residual: bool = False      # residual connections between the upper encoder layers (GNMT)
    attn_size: int = 64         # A, for additive and concat scores


class Encoder(nn.Module):
    """Embeddings -> bidirectional GRU (-> unidirectional GRUs, optionally residual)."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        K = 2 * cfg.hidden
        self.embed = nn.Embedding(cfg.src_vocab, cfg.emb, padding_idx=PAD_ID)
        self.bottom = nn.GRU(cfg.emb, cfg.hidden, batch_first=True, bidirectional=True)
        self.upper = nn.ModuleList(nn.GRU(K, K, batch_first=True) for _ in range(cfg.enc_layers - 1))
        self.residual = cfg.residual

    def forward(self, src, src_lengths):
        """src (B, S) ids, src_lengths (B,) -> outputs (B, S, K), summary (B, K).

        The summary is the final state: forward and backward halves of a one-layer encoder, the top
        layer's last state otherwise. Outputs at padded positions are 0.
        """
        lengths = src_lengths.detach().cpu()
        x = self.embed(src)  # (B, S, E)
        packed, h = self.bottom(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        summary = torch.cat([h[0], h[1]], dim=-1)  # (B, K)
        for layer in self.upper:
            out, h = layer(packed)
            if self.residual:
                out = out._replace(data=out.data + packed.data)
            packed, summary = out, h[-1]
        outputs, _ = pad_packed_sequence(packed, batch_first=True, total_length=src.shape[1])
        return outputs, summary


@dataclass
class Memory:
    """What the decoder reads at every step: encoder outputs ``keys`` (B, S, K), ``mask`` (B, S) True on
    real positions, the final encoder state ``summary`` (B, K), and ``projected`` keys (see
    :meth:`reference_impl.attention.Attention.project_keys`) or None."""

    keys: torch.Tensor
    mask: torch.Tensor
    summary: torch.Tensor
    projected: object = None

    def expand(self, n: int) -> "Memory":
        """The memory of a single sentence (B = 1) repeated for ``n`` beam hypotheses."""
        proj = self.projected.expand(n, -1, -1) if self.projected is not None else None
        return Memory(self.keys.expand(n, -1, -1), self.mask.expand(n, -1), self.summary.expand(n, -1), proj)


class Decoder(nn.Module):
    """GRU cell over [embedding of y_{t-1}; context]; output from [s_t; context; embedding]."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        K = 2 * cfg.hidden
        self.embed = nn.Embedding(cfg.tgt_vocab, cfg.emb, padding_idx=PAD_ID)
        self.init = nn.Linear(K, K)
        self.cell = nn.GRUCell(cfg.emb + K, K)
        self.attention = Attention(cfg.attention, K, K, cfg.attn_size) if cfg.attention else None
        self.readout = nn.Linear(K + K + cfg.emb, K)
        self.out = nn.Linear(K, cfg.tgt_vocab)

    def initial_state(self, summary):
        """summary (B, K) -> s_0 (B, K) = tanh(W summary + b)."""
        return torch.tanh(self.init(summary))

    def step(self, y_prev, state, memory: Memory):
        """One decoder step.

        Inputs:
            y_prev: (B,) previous target ids; state: (B, K) s_{t-1}; memory: the encoded source.
        Returns:
            logits (B, V), the new state s_t (B, K), attention weights (B, S) (None without attention).
        """
        emb = self.embed(y_prev)  # (B, E)
        if self.attention is not None:
            context, weights = self.attention(state, memory.keys, memory.mask, memory.projected)  # (B, K), (B, S)
        else:
            context, weights = memory.summary, None
        state = self.cell(torch.cat([emb, context], dim=-1), state)
        hidden = torch.tanh(self.readout(torch.cat([state, context, emb], dim=-1)))
        return self.out(hidden), state, weights


class Seq2Seq(nn.Module):
    """Encoder + decoder. ``Seq2Seq(Seq2SeqConfig(src_vocab, tgt_vocab, attention="dot"))``."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def encode(self, src, src_lengths):
        """src (B, S), src_lengths (B,) -> (:class:`Memory`, initial decoder state (B, K))."""
        keys, summary = self.encoder(src, src_lengths)
        mask = torch.arange(src.shape[1], device=src.device)[None, :] < src_lengths.to(src.device)[:, None]
        att = self.decoder.attention
        memory = Memory(keys, mask, summary, att.project_keys(keys) if att is not None else None)
        return memory, self.decoder.initial_state(summary)

    def forward(self, src, src_lengths, tgt_in, teacher_forcing=1.0, sampling="sample", generator=None):
        """Run the decoder over ``tgt_in`` (B, T), which starts with ``<sos>``.

        Args:
            teacher_forcing: probability that the input at step t > 0 is the true token ``tgt_in[:, t]``
                rather than the model's own prediction from step t - 1 (decided per token; 1 = teacher
                forcing, 0 = free running).
            sampling: how the model's own token is chosen: ``"sample"`` from its softmax (Bengio et al.)
                or ``"argmax"``.
        Returns:
            logits (B, T, V) and attention weights (B, T, S) (None without attention).
        """
        memory, state = self.encode(src, src_lengths)
        B, T = tgt_in.shape
        logits, weights = [], []
        y = tgt_in[:, 0]
        for t in range(T):
            if t > 0 and teacher_forcing < 1.0:
                with torch.no_grad():
                    if sampling == "argmax":
                        own = logits[-1].argmax(-1)
                    else:
                        own = torch.multinomial(torch.softmax(logits[-1].float(), -1), 1,
                                                generator=generator).squeeze(1)
                    coin = torch.rand(B, device=src.device, generator=generator) < teacher_forcing
                y = torch.where(coin, tgt_in[:, t], own)
            elif t > 0:
                y = tgt_in[:, t]
            step_logits, state, w = self.decoder.step(y, state, memory)
            logits.append(step_logits)
            weights.append(w)
        attn = torch.stack(weights, 1) if weights[0] is not None else None
        return torch.stack(logits, 1), attn

    def step_function(self, src, src_lengths):
        """A ``step_fn`` for :func:`beam_search` decoding one source sentence (``src`` of shape (1, S)).

        The state carried per hypothesis is the decoder state (K_beams, K).
        """
        memory, state = self.encode(src, src_lengths)

        def step_fn(tokens, states):
            logits, new_states, w = self.decoder.step(tokens, states, memory.expand(tokens.shape[0]))
            return torch.log_softmax(logits, -1), new_states, w

        return step_fn, state


# ----------------------------------------------------------------------------------------------
# scheduled sampling (Bengio et al. 2015)

SCHEDULES = ("teacher_forcing", "free_running", "linear", "exponential", "inverse_sigmoid")


def scheduled_sampling_eps(i, schedule="inverse_sigmoid", k=None, c=None, eps_min=0.0):
    """Probability of feeding the true token at training step ``i`` (Bengio et al. 2015, section 2.4).

    * linear: ``max(eps_min, k - c i)`` (defaults k = 1, c = 1e-3)
    * exponential: ``k^i`` with k < 1 (default 0.999)
    * inverse_sigmoid: ``k / (k + exp(i / k))`` with k >= 1 (default 500)
    * teacher_forcing: 1; free_running: 0.
    """
    if schedule == "teacher_forcing":
        return 1.0
    if schedule == "free_running":
        return 0.0
    if schedule == "linear":
        return max(eps_min, (1.0 if k is None else k) - (1e-3 if c is None else c) * i)
    if schedule == "exponential":
        return max(eps_min, (0.999 if k is None else k) ** i)
    if schedule == "inverse_sigmoid":
        k = 500.0 if k is None else k
        if k < 1:
            raise ValueError(f"the inverse sigmoid schedule needs k >= 1, got {k}")
        return max(eps_min, k / (k + math.exp(min(i / k, 700.0))))
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")


# ----------------------------------------------------------------------------------------------
# decoding


@torch.no_grad()
def greedy_decode(model: Seq2Seq, src, src_lengths, max_len: int = 50):
    """Pick the most probable token at every step until ``<eos>`` (or ``max_len`` tokens).

    Returns:
        tokens (B, T') with ``<pad>`` after each sentence's ``<eos>``, and attention (B, T', S) or None.
    """
    memory, state = model.encode(src, src_lengths)
    B = src.shape[0]
    y = torch.full((B,), SOS_ID, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    out, weights = [], []
    for _ in range(max_len):
        logits, state, w = model.decoder.step(y, state, memory)
        y = logits.argmax(-1).masked_fill(done, PAD_ID)
        out.append(y)
        weights.append(w)
        done = done | (y == EOS_ID)
        if bool(done.all()):
            break
    attn = torch.stack(weights, 1) if weights[0] is not None else None
    return torch.stack(out, 1), attn


@dataclass
class Hypothesis:
    """A finished beam: ``tokens`` (ending in ``<eos>`` unless cut at max_len), summed ``log_prob``,
    ``score`` = log_prob / lp(len(tokens)), attention ``weights`` (len(tokens), S) or None."""

    tokens: list
    log_prob: float
    score: float
    weights: object = None
    finished: bool = True


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ``lp(Y) = ((5 + |Y|) / 6)^alpha``; alpha = 0 ranks by raw log-probability."""
    return ((5.0 + length) / 6.0) ** alpha


@torch.no_grad()
def beam_search(step_fn, init_state, beam_size: int = 5, max_len: int = 50, alpha: float = 0.0,
                bos: int = SOS_ID, eos: int = EOS_ID):
    """Beam search over any model given as a step function.

    Args:
        step_fn: ``(tokens (K,), states (K, ...)) -> (log_probs (K, V), new_states (K, ...), weights)``
            where ``weights`` is (K, S) attention or None.
        init_state: the state before the first token, of shape (1, ...).
    Returns:
        finished hypotheses, best first by length-normalized score (see :class:`Hypothesis`); at most
        ``beam_size``. At each step the ``beam_size + K`` best extensions are ranked by summed
        log-probability; an ``<eos>`` among the first ``beam_size`` of them moves its hypothesis to
        the finished pool, and the best ``beam_size`` other extensions form the next beam.
        Search stops when the pool holds ``beam_size`` hypotheses or after ``max_len`` tokens; if then
        nothing has finished, the live hypotheses are returned with ``finished=False``.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    device = init_state.device
    tokens = torch.full((1,), bos, dtype=torch.long, device=device)
    states, log_probs = init_state, torch.zeros(1, device=device)
    histories, attn = [[]], [[]]
    finished = []
    for t in range(max_len):
        step_lp, new_states, w = step_fn(tokens, states)  # (K, V)
        V = step_lp.shape[-1]
        total = (log_probs[:, None] + step_lp).flatten()  # (K * V,)
        n_candidates = min(total.numel(), beam_size + tokens.shape[0])  # room for every EOS plus a full beam
        top_lp, top_idx = total.topk(n_candidates)
        keep_rows, keep_tokens, keep_lp = [], [], []
        for rank, (lp, idx) in enumerate(zip(top_lp.tolist(), top_idx.tolist())):
            row, tok = divmod(idx, V)
            if tok == eos:
                if rank < beam_size:  # an <eos> among the best beam_size candidates finishes a hypothesis
                    hist = histories[row] + [tok]
                    wts = attn[row] + ([w[row]] if w is not None else [])
                    finished.append(Hypothesis(hist, lp, lp / length_penalty(len(hist), alpha),
                                               torch.stack(wts) if wts else None))
            elif len(keep_rows) < beam_size:
                keep_rows.append(row)
                keep_tokens.append(tok)
                keep_lp.append(lp)
        if len(finished) >= beam_size or not keep_rows:
            break
        rows = torch.tensor(keep_rows, device=device)
        histories = [histories[r] + [tk] for r, tk in zip(keep_rows, keep_tokens)]
        attn = [attn[r] + ([w[r]] if w is not None else []) for r in keep_rows]
        tokens = torch.tensor(keep_tokens, dtype=torch.long, device=device)
        states = new_states[rows]
        log_probs = torch.tensor(keep_lp, device=device, dtype=step_lp.dtype)
    if not finished:
        finished = [Hypothesis(h, lp, lp / length_penalty(len(h), alpha), torch.stack(a) if a else None,
                               finished=False) for h, lp, a in zip(histories, log_probs.tolist(), attn)]
    finished.sort(key=lambda h: h.score, reverse=True)
    return finished[:beam_size]


@torch.no_grad()
def sequence_log_prob(step_fn, init_state, tokens, bos: int = SOS_ID) -> float:
    """log p(tokens) under a step function (teacher-forced), for checking beam scores."""
    y = torch.tensor([bos], device=init_state.device)
    state, total = init_state, 0.0
    for tok in tokens:
        lp, state, _ = step_fn(y, state)
        total += float(lp[0, tok])
        y = torch.tensor([tok], device=init_state.device)
    return total


# ----------------------------------------------------------------------------------------------
# data to tensors


def encode_pairs(pairs, src_tok, tgt_tok):
    """Token ids: sources end in ``<eos>``; targets as (``<sos>`` y, y ``<eos>``)."""
    out = []
    for s, t in pairs:
        x = src_tok.encode(s) + [EOS_ID]
        y = tgt_tok.encode(t)
        out.append((x, [SOS_ID] + y, y + [EOS_ID]))
    return out


def collate(encoded, device=None):
    """Pad a list of ``(x, y_in, y_out)`` id lists into tensors.

    Returns:
        src (B, S), src_lengths (B,), tgt_in (B, T), tgt_out (B, T); padding is ``<pad>`` = 0.
    """
    dev = get_device(device)

    def pad(seqs):
        width = max(len(s) for s in seqs)
        return torch.tensor([s + [PAD_ID] * (width - len(s)) for s in seqs], dtype=torch.long, device=dev)

    xs, yin, yout = zip(*encoded)
    return pad(xs), torch.tensor([len(x) for x in xs], device=dev), pad(yin), pad(yout)


def src_tensor(texts, src_tok, device=None):
    """Sources only: src (B, S), src_lengths (B,)."""
    dev = get_device(device)
    ids = [src_tok.encode(t) + [EOS_ID] for t in texts]
    width = max(len(s) for s in ids)
    src = torch.tensor([s + [PAD_ID] * (width - len(s)) for s in ids], dtype=torch.long, device=dev)
    return src, torch.tensor([len(s) for s in ids], device=dev)


# ----------------------------------------------------------------------------------------------
# training


@dataclass
class TrainResult:
    """What :func:`train_seq2seq` reached: per-step losses and teacher-forcing probabilities, time."""

    losses: list = field(default_factory=list)
    eps: list = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def train_seq2seq(model, pairs, src_tok, tgt_tok, steps=1000, batch_size=64, lr=3e-3,
                  schedule="teacher_forcing", schedule_kwargs=None, sampling="sample", clip=1.0,
                  device=None, seed=0, progress=True, desc="training"):
    """Adam on the token cross-entropy (padding ignored), ``steps`` minibatches drawn by epoch.

    Args:
        schedule: a :func:`scheduled_sampling_eps` schedule; its value at each step is the probability
            of feeding the true previous token.
        device: where to train (``get_device`` resolves it); the model is moved there.
    Returns:
        a :class:`TrainResult`.
    """
    import time

    from tqdm.auto import tqdm

    dev = get_device(device)
    model.to(dev).train()
    encoded = encode_pairs(pairs, src_tok, tgt_tok)
    rng = random.Random(seed)
    gen = torch.Generator(device=dev).manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    result = TrainResult()
    order, pos = [], 0
    t0 = time.time()
    bar = tqdm(range(steps), desc=desc, disable=not progress, mininterval=1.0)
    for i in bar:
        if pos + batch_size > len(order):
            order, pos = list(range(len(encoded))), 0
            rng.shuffle(order)
        batch = [encoded[j] for j in order[pos:pos + batch_size]]
        pos += batch_size
        src, lengths, tgt_in, tgt_out = collate(batch, dev)
        eps = scheduled_sampling_eps(i, schedule, **(schedule_kwargs or {}))
        logits, _ = model(src, lengths, tgt_in, teacher_forcing=eps, sampling=sampling, generator=gen)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD_ID)
        opt.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        result.losses.append(loss.item())
        result.eps.append(eps)
        if i % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}", eps=f"{eps:.2f}")
    result.seconds = time.time() - t0
    result.steps = steps
    model.eval()
    return result


# ----------------------------------------------------------------------------------------------
# translating text


class TranslationInputError(ValueError):
    """The text cannot be translated by this model; the message says why and what would work."""


@dataclass
class Translation:
    """``text`` translated: ``output`` string, the tokens on both sides, attention (T, S) or None."""

    text: str
    output: str
    src_tokens: list
    out_tokens: list
    weights: object
    score: float = float("nan")


class Translator:
    """A trained model with its tokenizers: ``Translator(model, src_tok, tgt_tok)("forty-seven")``.

    Args:
        max_src_len: the longest input accepted, in source tokens (default: the longest seen in training,
            given by :func:`build_translator`).
        max_len: the longest output generated, in target tokens.
    """

    def __init__(self, model, src_tok, tgt_tok, max_src_len=100, max_len=60, device=None):
        self.device = get_device(device)
        self.model = model.to(self.device).eval()
        self.src_tok, self.tgt_tok = src_tok, tgt_tok
        self.max_src_len, self.max_len = max_src_len, max_len

    def check(self, text) -> str:
        """Why ``text`` cannot be translated ('' if it can)."""
        if not isinstance(text, str):
            return f"expected a string, got {type(text).__name__}"
        if not text.strip():
            return "the input is empty; type a sentence (for example one from the training data)"
        tokens = self.src_tok.tokenize(text)
        problem = self.src_tok.describe_unknown(text)
        if problem:
            return problem
        if len(tokens) > self.max_src_len:
            return (f"the input has {len(tokens)} tokens, more than the {self.max_src_len} this model "
                    f"accepts (the longest it was trained on); shorten it")
        return ""

    def __call__(self, text, beam_size=1, alpha=0.0) -> Translation:
        """Translate one sentence (greedy for ``beam_size=1``); raises :class:`TranslationInputError`."""
        problem = self.check(text)
        if problem:
            raise TranslationInputError(problem)
        src, lengths = src_tensor([text], self.src_tok, self.device)
        src_tokens = self.src_tok.tokenize(text) + ["<eos>"]
        if beam_size == 1:
            out, attn = greedy_decode(self.model, src, lengths, self.max_len)
            ids, score = out[0].tolist(), float("nan")
            weights = attn[0] if attn is not None else None
        else:
            step_fn, state = self.model.step_function(src, lengths)
            best = beam_search(step_fn, state, beam_size, self.max_len, alpha)[0]
            ids, weights, score = best.tokens, best.weights, best.score
        out_tokens = self.tgt_tok.vocab.decode(ids)
        n = len(out_tokens) + (1 if EOS_ID in ids else 0)
        if weights is not None:
            weights = weights[:n].detach().cpu()
        return Translation(text, self.tgt_tok.decode(ids), src_tokens,
                           out_tokens + (["<eos>"] if EOS_ID in ids else []), weights, score)

    def translate_many(self, texts, batch_size=500) -> list:
        """Greedy translations of many sentences (batched); no input checks."""
        outs = []
        for i in range(0, len(texts), batch_size):
            src, lengths = src_tensor(texts[i:i + batch_size], self.src_tok, self.device)
            ids, _ = greedy_decode(self.model, src, lengths, self.max_len)
            outs += [self.tgt_tok.decode(row) for row in ids.tolist()]
        return outs


def build_translator(train_pairs, attention="additive", level="char", device=None, seed=0, **cfg):
    """A fresh (untrained) :class:`Translator` whose tokenizers cover ``train_pairs``.

    ``level``: ``"char"`` or ``"word"`` tokenizers. Extra keyword arguments go to :class:`Seq2SeqConfig`.
    """
    from .tokenizers import WordTokenizer

    tok_cls = CharTokenizer if level == "char" else WordTokenizer
    src_tok = tok_cls.from_corpus(s for s, _ in train_pairs)
    tgt_tok = tok_cls.from_corpus(t for _, t in train_pairs)
    torch.manual_seed(seed)
    model = Seq2Seq(Seq2SeqConfig(len(src_tok.vocab), len(tgt_tok.vocab), attention=attention, **cfg))
    max_src = max(len(src_tok.tokenize(s)) for s, _ in train_pairs)
    max_tgt = max(len(tgt_tok.tokenize(t)) for _, t in train_pairs)
    return Translator(model, src_tok, tgt_tok, max_src_len=max_src, max_len=max_tgt + 10, device=device)


def exact_match(translator, pairs, batch_size=500):
    """Fraction of ``pairs`` translated exactly (greedy), and the outputs."""
    outs = translator.translate_many([s for s, _ in pairs], batch_size)
    hits = [o == t for o, (_, t) in zip(outs, pairs)]
    return (sum(hits) / len(hits) if hits else float("nan")), outs


def accuracy_by_length(pairs, outputs, edges):
    """Exact-match accuracy of ``outputs`` per bucket of source length (in characters).

    Args:
        pairs: ``[(source, target)]``; outputs: the translations, in the same order;
        edges: increasing bucket edges, e.g. ``[0, 20, 30, 40, 60]`` for [0, 20), [20, 30), ...
    Returns:
        ``[(low, high, n in bucket, accuracy or nan)]``.
    """
    rows = []
    for low, high in zip(edges, edges[1:]):
        hits = [o == t for o, (s, t) in zip(outputs, pairs) if low <= len(s) < high]
        rows.append((low, high, len(hits), sum(hits) / len(hits) if hits else float("nan")))
    return rows
