MUTANTS = {
    "softmax_without_max_shift": {
        "cell": "softmax",
        "replace": [("shifted = x - np.max(x, axis=axis, keepdims=True)", "shifted = x")],
        "loses": ["test_softmax_stable"],
    },
    "softmax_calls_reference": {
        "cell": "softmax",
        "replace": [("    shifted = x - np.max(x, axis=axis, keepdims=True)\n",
                     "    import importlib\n"
                     "    return importlib.import_module('reference_impl.numerics').softmax(x, axis)\n")],
        "loses": ["test_softmax_values"],
    },
    "log_of_softmax": {
        "cell": "log_softmax",
        "replace": [("    shifted = x - np.max(x, axis=axis, keepdims=True)\n"
                     "    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))",
                     "    return np.log(softmax(x, axis=axis))")],
        "loses": ["test_log_softmax_stable"],
    },
    "cross_entropy_summed_not_averaged": {
        "cell": "cross_entropy",
        "replace": [("-np.mean(", "-np.sum(")],
        "loses": ["test_cross_entropy"],
    },
    "gradient_missing_one_over_n": {
        "cell": "cross_entropy_grad",
        "replace": [("return grad / n", "return grad")],
        "loses": ["test_cross_entropy_grad"],
    },
    "one_sided_difference": {
        "cell": "numeric_gradient",
        "replace": [("x[i] = old - h\n        f_minus = float(f(x))", "x[i] = old\n        f_minus = float(f(x))"),
                    ("/ (2 * h)", "/ h")],
        "loses": ["test_numeric_gradient"],
    },
}
