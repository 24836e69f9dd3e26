"""Interpreting single units of a character model (Karpathy, Johnson & Fei-Fei 2015, "Visualizing and
understanding recurrent networks"): per-character labels of Python source, the units that track them,
and text coloured by a unit's activation.

Labels, one per character of a source text of length L:
    inside_string(text)      True on the characters of a string literal (quotes, prefixes and
                             docstrings included), from the ``tokenize`` module's STRING tokens
    position_in_line(text)   column of the character (0 for the first character of a line)
    indentation_depth(text)  leading-whitespace width of the line the character is on (tab = 8)

Scores, one per unit, for activations A (L, H):
    auc_per_unit(A, labels)            ROC AUC of each unit's activation as a detector of a binary label
                                       (0.5 = chance; a unit that is low inside strings scores near 0)
    correlation_per_unit(A, values)    Pearson correlation with a numeric label
"""
import html
import io
import tokenize

import numpy as np


def inside_string(text):
    """Boolean mask (L,) of the characters that belong to a string literal of the Python source ``text``.

    Raises:
        SyntaxError: ``text`` cannot be tokenized (tokenize.TokenError / IndentationError are re-raised
            as SyntaxError naming the problem).
    """
    lines = text.splitlines(keepends=True)
    starts = np.cumsum([0] + [len(ln) for ln in lines])  # offset of each line's first character
    mask = np.zeros(len(text), dtype=bool)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.STRING:
                (r0, c0), (r1, c1) = tok.start, tok.end
                mask[starts[r0 - 1] + c0: starts[r1 - 1] + c1] = True
    except (tokenize.TokenError, IndentationError) as exc:
        raise SyntaxError(f"cannot tokenize the text: {exc}") from None
    return mask


def labelled_sources(sources, n_chars):
    """Concatenate source files into a probe text of at most ``n_chars`` characters, labelling each
    file's string literals on the whole file (so a cut never leaves a string unclosed); files that
    ``tokenize`` rejects are skipped.

    Inputs:
        sources: iterable of str, whole Python files.
    Returns:
        text (str of length L) and its inside-string mask (L,) bool.
    """
    pieces, masks, total = [], [], 0
    for src in sources:
        if total >= n_chars:
            break
        if not src.strip():
            continue
        try:
            mask = inside_string(src)
        except SyntaxError:
            continue
        n = min(len(src), n_chars - total)
        pieces.append(src[:n])
        masks.append(mask[:n])
        total += n
    if not pieces:
        raise ValueError("no source in `sources` could be tokenized")
    return "".join(pieces), np.concatenate(masks)


def position_in_line(text):
    """Column (L,) int of every character: 0 at a line's start; the newline gets its line's length."""
    pos = np.empty(len(text), dtype=np.int64)
    col = 0
    for i, ch in enumerate(text):
        pos[i] = col
        col = 0 if ch == "\n" else col + 1
    return pos


def indentation_depth(text):
    """Leading-whitespace width (L,) int of the line each character is on (tabs count 8)."""
    depth = np.empty(len(text), dtype=np.int64)
    i = 0
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip(" \t")
        width = len(line[: len(line) - len(stripped)].expandtabs(8))
        depth[i:i + len(line)] = width
        i += len(line)
    return depth


def auc_per_unit(activations, labels):
    """ROC AUC of every unit as a score for a binary label (the Mann–Whitney U statistic, ties averaged).

    Inputs:
        activations: (L, H) floats; labels: (L,) bools, both classes present.
    Returns:
        (H,) floats in [0, 1].
    """
    A = np.asarray(activations, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if A.ndim != 2 or y.shape != (A.shape[0],):
        raise ValueError(f"activations must be (L, H) and labels (L,); got {A.shape} and {y.shape}")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("labels must contain both classes")
    ranks = _average_ranks(A)  # (L, H), 1-based
    u = ranks[y].sum(axis=0) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def _average_ranks(A):
    """Column-wise ranks 1..L of A (L, H), tied values sharing their mean rank."""
    L, H = A.shape
    order = np.argsort(A, axis=0, kind="mergesort")
    ranks = np.empty_like(A)
    for h in range(H):
        a = A[order[:, h], h]
        # boundaries of runs of equal values
        new = np.r_[True, a[1:] != a[:-1]]
        run_id = np.cumsum(new) - 1
        starts = np.nonzero(new)[0]
        ends = np.r_[starts[1:], L]
        mean_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
        ranks[order[:, h], h] = mean_rank[run_id]
    return ranks


def correlation_per_unit(activations, values):
    """Pearson correlation (H,) of every unit's activation (L, H) with numeric values (L,); 0 for constant units."""
    A = np.asarray(activations, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if A.ndim != 2 or v.shape != (A.shape[0],):
        raise ValueError(f"activations must be (L, H) and values (L,); got {A.shape} and {v.shape}")
    Ac = A - A.mean(axis=0)
    vc = v - v.mean()
    denom = np.sqrt((Ac ** 2).sum(axis=0) * (vc ** 2).sum())
    return np.divide(Ac.T @ vc, denom, out=np.zeros(A.shape[1]), where=denom > 0)


def best_units(scores, k=5, center=0.0):
    """Indices (k,) of the units whose score is farthest from ``center`` (0.5 for AUC, 0 for correlation)."""
    return np.argsort(-np.abs(np.asarray(scores) - center), kind="stable")[:k]


def activation_html(text, values, vmin=-1.0, vmax=1.0, title=None):
    """HTML of ``text`` with each character's background coloured by ``values`` (L,): blue for vmin,
    white in the middle, red for vmax (the colouring of Karpathy et al.'s figures).

    Returns:
        str, a <div> with a <pre> block; show it with ``IPython.display.HTML``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(text),):
        raise ValueError(f"values: expected shape ({len(text)},) (one per character), got {values.shape}")
    z = np.clip((values - vmin) / max(vmax - vmin, 1e-12), 0.0, 1.0) * 2 - 1  # in [-1, 1]
    parts = []
    for ch, v in zip(text, z):
        if v >= 0:
            r, g, b = 255, int(255 * (1 - v)), int(255 * (1 - v))
        else:
            r, g, b = int(255 * (1 + v)), int(255 * (1 + v)), 255
        shown = "\u21b5\n" if ch == "\n" else html.escape(ch)
        parts.append(f'<span style="background-color: rgb({r},{g},{b})">{shown}</span>')
    head = f"<b>{html.escape(title)}</b>" if title else ""
    return (f'<div>{head}<pre style="font-family: monospace; font-size: 12px; line-height: 1.35; '
            f'color: black; background: white">{"".join(parts)}</pre></div>')
