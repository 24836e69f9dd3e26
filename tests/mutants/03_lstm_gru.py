"""Deliberately wrong variants of module 03's solutions; each must lose the points of the listed cells."""
MUTANTS = {
    "lstm_cs231n_gate_order": {  # i, f, o, g instead of PyTorch's i, f, g, o
        "cell": "lstm_cell",
        "replace": [("g = torch.tanh(a[:, 2 * H:3 * H])\n    o = torch.sigmoid(a[:, 3 * H:4 * H])",
                     "o = torch.sigmoid(a[:, 2 * H:3 * H])\n    g = torch.tanh(a[:, 3 * H:4 * H])")],
        "loses": ["test_lstm_cell_values", "test_lstm_cell_gradients"],
    },
    "lstm_transposed_weights": {
        "cell": "lstm_cell",
        "replace": [("x @ weight_ih.T + bias_ih + h @ weight_hh.T", "x @ weight_ih + bias_ih + h @ weight_hh")],
        "loses": ["test_lstm_cell_values", "test_lstm_cell_gradients"],
    },
    "lstm_one_bias": {
        "cell": "lstm_cell",
        "replace": [("h @ weight_hh.T + bias_hh  # (N, 4H)", "h @ weight_hh.T  # (N, 4H)")],
        "loses": ["test_lstm_cell_values"],
    },
    "lstm_calls_reference": {
        "cell": "lstm_cell",
        "replace": [("    H = h.shape[1]\n    a = x @ weight_ih.T",
                     "    import importlib\n"
                     "    return importlib.import_module('reference_impl.cells').lstm_cell(\n"
                     "        x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)\n"
                     "    H = h.shape[1]\n    a = x @ weight_ih.T")],
        "loses": ["test_lstm_cell_values", "test_lstm_cell_gradients"],
    },
    "lstm_detached_state": {  # right values, no gradient to c
        "cell": "lstm_cell",
        "replace": [("c_next = f * c + i * g", "c_next = f * c.detach() + i * g")],
        "loses": ["test_lstm_cell_gradients"],
    },
    "gru_paper_bhn_outside_reset": {
        "cell": "gru_cell",
        "replace": [("n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])",
                     "n = torch.tanh(gi[:, 2 * H:] + r * (gh[:, 2 * H:] - bias_hh[2 * H:]) + bias_hh[2 * H:])")],
        "loses": ["test_gru_cell_values", "test_gru_cell_gradients"],
    },
    "gru_reset_before_product": {  # Cho et al. 2014
        "cell": "gru_cell",
        "replace": [("n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])",
                     "n = torch.tanh(gi[:, 2 * H:] + (r * h) @ weight_hh[2 * H:].T + bias_hh[2 * H:])")],
        "loses": ["test_gru_cell_values"],
    },
    "gru_swapped_update": {  # the second deck's convention h = (1 - z) h + z n
        "cell": "gru_cell",
        "replace": [("return (1 - z) * n + z * h", "return z * n + (1 - z) * h")],
        "loses": ["test_gru_cell_values"],
    },
    "peephole_input_forget_read_new_cell": {  # i, f peek at c_t instead of c_{t-1}
        "cell": "peephole_lstm_cell",
        "replace": [("    i = torch.sigmoid(a[:, :H] + peephole_i * c)\n    f = torch.sigmoid(a[:, H:2 * H] + peephole_f * c)",
                     "    c_t = torch.sigmoid(a[:, H:2 * H]) * c + torch.sigmoid(a[:, :H]) * torch.tanh(a[:, 2 * H:3 * H])\n"
                     "    i = torch.sigmoid(a[:, :H] + peephole_i * c_t)\n"
                     "    f = torch.sigmoid(a[:, H:2 * H] + peephole_f * c_t)")],
        "loses": ["test_peephole_cell"],
    },
    "peephole_output_reads_old_cell": {  # the slide's simplification
        "cell": "peephole_lstm_cell",
        "replace": [("peephole_o * c_next", "peephole_o * c")],
        "loses": ["test_peephole_cell"],
    },
    "cifg_forget_equals_input": {
        "cell": "cifg_lstm_cell",
        "replace": [("c_next = (1 - i) * c + i * g", "c_next = i * c + i * g")],
        "loses": ["test_cifg_cell"],
    },
    "sequence_drops_cell_state": {
        "cell": "lstm_forward",
        "replace": [("h, c = lstm_cell(x_t, h, c,", "h, _ = lstm_cell(x_t, h, c,")],
        "loses": ["test_lstm_forward"],
    },
    "adding_reads_first_step": {
        "cell": "adding_model",
        "replace": [("return self.head(out[-1]).squeeze(1)", "return self.head(out[0]).squeeze(1)")],
        "loses": ["test_adding_model", "test_adding_trained"],
    },
    "adding_forget_bias_zero": {
        "cell": "adding_model",
        "replace": [("self.bias_ih[H:2 * H] = 1.0", "self.bias_ih[H:2 * H] = 0.0")],
        "loses": ["test_adding_model"],
    },
    "training_learning_rate_too_small": {
        "cell": "train_adding",
        "replace": [("optimizer = torch.optim.Adam(model.parameters(), lr=lr)",
                     "optimizer = torch.optim.Adam(model.parameters(), lr=lr / 100)")],
        "loses": ["test_adding_trained"],
    },
}
