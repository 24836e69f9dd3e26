MUTANTS = {
    "glimpse_xy_swapped": {
        "cell": "glimpse",
        "replace": [("col = torch.floor((locations[:, 0] + 1) / 2 * W)", "col = torch.floor((locations[:, 1] + 1) / 2 * W)"),
                    ("row = torch.floor((locations[:, 1] + 1) / 2 * H)", "row = torch.floor((locations[:, 0] + 1) / 2 * H)")],
        "loses": ["test_glimpse_values", "test_glimpse_border"],
    },
    "glimpse_window_shifted_inside_instead_of_padded": {
        "cell": "glimpse",
        "replace": [("        rows = row[:, None] + offsets\n        cols = col[:, None] + offsets\n",
                     "        r0 = (row - size // 2).clamp(0, max(H - size, 0)) + size // 2\n"
                     "        c0 = (col - size // 2).clamp(0, max(W - size, 0)) + size // 2\n"
                     "        rows = r0[:, None] + offsets\n        cols = c0[:, None] + offsets\n")],
        "loses": ["test_glimpse_border"],
    },
    "glimpse_subsampled_not_averaged": {
        "cell": "glimpse",
        "replace": [("patch = F.avg_pool2d(patch, scale ** k)", "patch = patch[:, :, ::scale ** k, ::scale ** k]")],
        "loses": ["test_glimpse_values", "test_glimpse_border"],
    },
    "glimpse_calls_reference": {
        "cell": "glimpse",
        "replace": [("    N, C, H, W = images.shape\n    col =",
                     "    import importlib\n"
                     "    return importlib.import_module('reference_impl.glimpse').glimpse(images, locations, patch_size, "
                     "n_scales, scale)\n    N, C, H, W = images.shape\n    col =")],
        "loses": ["test_glimpse_values"],
    },
    "log_prob_without_log_sigma": {
        "cell": "log_prob",
        "replace": [(" - torch.log(sigma) - 0.5 * math.log(2 * math.pi)", " - 0.5 * math.log(2 * math.pi)")],
        "loses": ["test_log_prob_values", "test_log_prob_sigma_gradient"],
    },
    "log_prob_missing_half": {
        "cell": "log_prob",
        "replace": [("-(l - mu) ** 2 / (2 * sigma ** 2)", "-(l - mu) ** 2 / sigma ** 2")],
        "loses": ["test_log_prob_values", "test_log_prob_sigma_gradient"],
    },
    "baseline_gradient_flows_into_policy_loss": {
        "cell": "reinforce",
        "replace": [("advantage = (reward - baseline).detach()", "advantage = reward - baseline")],
        "loses": ["test_reinforce_gradients"],
    },
    "reinforce_sign_flipped": {
        "cell": "reinforce",
        "replace": [("policy_loss = -(log_pi * advantage)", "policy_loss = (log_pi * advantage)")],
        "loses": ["test_reinforce_values", "test_reinforce_gradients"],
    },
    "reinforce_without_baseline": {
        "cell": "reinforce",
        "replace": [("advantage = (reward - baseline).detach()", "advantage = reward.expand_as(baseline)")],
        "loses": ["test_reinforce_values"],
    },
    "ram_built_on_the_reference_sensor": {
        "cell": "train_ram",
        "replace": [("model = ram.RAM(cfg, sensor=glimpse, log_prob=gaussian_log_prob)", "model = ram.RAM(cfg)")],
        "loses": ["test_train_ram"],
    },
}
