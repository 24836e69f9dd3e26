"""Deliberately wrong solutions of assignment 05; each must lose the points of the cells listed."""
MUTANTS = {
    "softmax_over_wrong_axis": {
        "cell": "additive_attention",
        "replace": [('float("-inf")), dim=-1)', 'float("-inf")), dim=0)')],
        "loses": ["test_additive_values", "test_multiplicative_values"],
    },
    "missing_mask": {
        "cell": "additive_attention",
        "replace": [('    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)\n'
                     '    return weights.masked_fill(~mask, 0.0)',
                     '    return torch.softmax(scores, dim=-1)')],
        "loses": ["test_additive_mask", "test_multiplicative_values"],
    },
    "mask_zeroed_after_softmax_without_renormalizing": {
        "cell": "additive_attention",
        "replace": [('torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)',
                     'torch.softmax(scores, dim=-1)')],
        "loses": ["test_additive_mask"],
    },
    "additive_calls_reference": {
        "cell": "additive_attention",
        "replace": [('    hidden = torch.tanh((query @ W_q.T)[:, None, :] + keys @ W_k.T)  # (B, S, A)\n',
                     '    import importlib\n'
                     '    return importlib.import_module("reference_impl.attention").additive_attention('
                     'query, keys, mask, W_q, W_k, v)\n')],
        "loses": ["test_additive_values"],
    },
    "general_score_with_transposed_W": {
        "cell": "multiplicative_attention",
        "replace": [("q = query if W is None else query @ W ", "q = query if W is None else query @ W.T ")],
        "loses": ["test_multiplicative_values"],
    },
    "decoder_input_in_wrong_order": {
        "cell": "decoder_step",
        "replace": [("cell(torch.cat([x, context], dim=-1), state)", "cell(torch.cat([context, x], dim=-1), state)")],
        "loses": ["test_decoder_step"],
    },
    "decoder_readout_without_tanh": {
        "cell": "decoder_step",
        "replace": [("logits = out(torch.tanh(readout(", "logits = out((readout(")],
        "loses": ["test_decoder_step"],
    },
    "beam_drops_finished_hypotheses": {
        "cell": "beam_search",
        "replace": [("                    finished.append((toks, total, total / lp(len(toks))))",
                     "                    pass")],
        "loses": ["test_beam_finished", "test_beam_exhaustive"],
    },
    "beam_without_length_normalization": {
        "cell": "beam_search",
        "replace": [("total / lp(len(toks))", "total")],
        "loses": ["test_beam_exhaustive", "test_beam_finished"],
    },
    "brevity_penalty_inverted": {
        "cell": "corpus_bleu",
        "replace": [("math.exp(1 - r / c)", "math.exp(1 - c / r)")],
        "loses": ["test_bleu_edge_cases"],
    },
    "bleu_without_clipping": {
        "cell": "corpus_bleu",
        "replace": [("min(count, g[ng])", "(count if ng in g else 0)")],
        "loses": ["test_bleu_values"],
    },
}
