"""Deliberately wrong variants of the 02_rnn_bptt solutions; each must lose the points of its task."""
MUTANTS = {
    "step_forward_calls_reference": {
        "cell": "rnn_step_forward",
        "replace": [("    a = b + s_prev @ W.T + x @ U.T\n",
                     "    import importlib\n"
                     "    return importlib.import_module('reference_impl.rnn').rnn_step_forward(x, s_prev, U, W, b)\n")],
        "loses": ["test_rnn_step_forward"],
    },
    "step_forward_untransposed_weights": {
        "cell": "rnn_step_forward",
        "replace": [("a = b + s_prev @ W.T + x @ U.T", "a = b + s_prev @ W + x @ U.T")],
        "loses": ["test_rnn_step_forward"],
    },
    "missing_tanh_derivative": {
        "cell": "rnn_step_backward",
        "replace": [("da = ds * (1 - s ** 2)", "da = ds")],
        "loses": ["test_rnn_step_backward"],
    },
    "bias_gradient_not_summed_over_batch": {
        "cell": "rnn_step_backward",
        "replace": [("db = da.sum(axis=0)", "db = da.mean(axis=0)")],
        "loses": ["test_rnn_step_backward"],
    },
    "gradients_not_summed_over_time": {
        "cell": "rnn_backward",
        "replace": [("        dU += dU_t\n        dW += dW_t\n        db += db_t\n",
                     "        dU = dU_t\n        dW = dW_t\n        db = db_t\n")],
        "loses": ["test_rnn_backward"],
    },
    "no_gradient_through_the_recurrence": {
        "cell": "rnn_backward",
        "replace": [("rnn_step_backward(ds[:, t, :] + ds_next, cache[t])", "rnn_step_backward(ds[:, t, :], cache[t])")],
        "loses": ["test_rnn_backward"],
    },
    "backward_direction_not_reversed": {
        "cell": "birnn",
        "replace": [("out = np.concatenate([s_f, s_b[:, ::-1]], axis=2)", "out = np.concatenate([s_f, s_b], axis=2)")],
        "loses": ["test_birnn"],
    },
    "clipping_per_tensor_instead_of_global_norm": {
        "cell": "clipping",
        "replace": [("    scale = min(1.0, max_norm / (total + 1e-6))\n    return [g * scale for g in grads], total",
                     "    return [g * min(1.0, max_norm / (np.sqrt(np.sum(g ** 2)) + 1e-6)) for g in grads], total")],
        "loses": ["test_clip_by_norm"],
    },
    "clip_value_only_from_above": {
        "cell": "clipping",
        "replace": [("np.clip(g, -clip_value, clip_value)", "np.minimum(g, clip_value)")],
        "loses": ["test_clip_by_value"],
    },
    "ridge_without_regularization": {
        "cell": "ridge_readout",
        "replace": [("A = X.T @ X + ridge * np.eye(X.shape[1])", "A = X.T @ X + 1e-12 * np.eye(X.shape[1])")],
        "loses": ["test_ridge_readout"],
    },
    "ridge_returns_transposed": {
        "cell": "ridge_readout",
        "replace": [("return np.linalg.solve(A, X.T @ Y).T", "return np.linalg.solve(A, X.T @ Y)")],
        "loses": ["test_ridge_readout", "test_esn_prediction"],
    },
}
