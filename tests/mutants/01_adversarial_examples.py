MUTANTS = {
    "fgsm_without_clamp": {
        "cell": "fgsm",
        "replace": [("return torch.clamp(x_adv, 0.0, 1.0).detach()", "return x_adv.detach()")],
        "loses": ["test_fgsm", "test_fgsm_targeted"],
    },
    "fgsm_targeted_sign_flipped": {
        "cell": "fgsm",
        "replace": [("x_adv = x - step if targeted else x + step", "x_adv = x + step")],
        "loses": ["test_fgsm_targeted"],
    },
    "fgsm_calls_reference": {
        "cell": "fgsm",
        "replace": [("    was_training = model.training\n",
                     "    import importlib\n"
                     "    return importlib.import_module('reference_impl.attacks').fgsm(model, x, y, eps, targeted)\n")],
        "loses": ["test_fgsm"],
    },
    "pgd_without_projection": {
        "cell": "pgd_linf",
        "replace": [("x_adv = torch.clamp(x + torch.clamp(x_adv - x, -eps, eps), 0.0, 1.0)",
                     "x_adv = torch.clamp(x_adv, 0.0, 1.0)")],
        "loses": ["test_pgd"],
    },
    "pgd_ignores_random_start": {
        "cell": "pgd_linf",
        "replace": [("if random_start:", "if False:")],
        "loses": ["test_pgd_random_start"],
    },
    "deepfool_without_overshoot": {
        "cell": "deepfool",
        "replace": [("x_i = torch.clamp(x0 + (1 + overshoot) * r_tot, 0.0, 1.0)",
                     "x_i = torch.clamp(x0 + r_tot, 0.0, 1.0)")],
        "loses": ["test_deepfool_affine"],
    },
    "deepfool_runner_up_class_only": {
        "cell": "deepfool",
        "replace": [("l = dist.argmin()", "l = torch.topk(logits.detach(), 2).indices[1]")],
        "loses": ["test_deepfool_affine"],
    },
    "deepfool_single_step": {
        "cell": "deepfool",
        "replace": [("for _ in range(max_iter):", "for _ in range(min(max_iter, 1)):")],
        "loses": ["test_deepfool"],
    },
    "adv_loss_alpha_on_adversarial_term": {
        "cell": "fgsm_training_loss",
        "replace": [("return alpha * F.cross_entropy(model(x), y) + (1 - alpha) * F.cross_entropy(model(x_adv), y)",
                     "return (1 - alpha) * F.cross_entropy(model(x), y) + alpha * F.cross_entropy(model(x_adv), y)")],
        "loses": ["test_fgsm_training_loss"],
    },
    "transfer_reports_source_twice": {
        "cell": "transfer_accuracy",
        "replace": [("tgt = (target_model(x_adv)", "tgt = (source_model(x_adv)")],
        "loses": ["test_transfer"],
    },
}
