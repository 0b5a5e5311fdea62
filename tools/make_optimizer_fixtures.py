#!/usr/bin/env python3
"""Writes the optimizer, gradient-clipping and learning-rate-schedule fixtures of OptimizerTests and ScheduleTests.

Tests/Fixtures/learning/optimizers/ (float32 .npy):
  initial.npy     (17,)     parameters A (3, 4) and B (5,), flattened and concatenated
  gradients.npy   (10, 17)  the gradient of A and B fed before each of the 10 steps
  <case>.npy      (10, 17)  A and B after each step of torch.optim (float32, single-tensor kernels)
Tests/Fixtures/learning/schedules.json:
  {case: {"lrs": [[lr of group 0, lr of group 1] after construction and after each of 50 steps],
          "metrics": [...]}}   (metrics only for ReduceLROnPlateau cases)
Learning rates and metrics are written as strings (Python's repr of the float), which round-trip exactly
through Swift's Double(String); Foundation's JSON number parsing on Linux is not always correctly rounded.

Every case's settings are mirrored in Tests/EngineTests/OptimizerTests.swift and ScheduleTests.swift;
change both together.

Run from the repository root:  python3 tools/make_optimizer_fixtures.py
"""
import json
import math
import os
import shutil

import numpy as np
import torch
from torch.optim import lr_scheduler as S

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "learning")
STEPS = 10
# Gradient magnitudes vary per step so that clipping by norm is active on some steps and not others.
SCALES = [1.0, 0.05, 2.0, 0.5, 0.1, 1.5, 0.2, 3.0, 0.08, 1.0]


def data():
    g = torch.Generator().manual_seed(20240611)
    initial = torch.randn(17, generator=g, dtype=torch.float32)
    grads = torch.randn(STEPS, 17, generator=g, dtype=torch.float32)
    grads *= torch.tensor(SCALES, dtype=torch.float32)[:, None]
    return initial, grads


def split(flat):
    return flat[:12].reshape(3, 4).clone(), flat[12:].clone()


# name -> (build(a, b) -> optimizer, clip(params) or None). Mirrored in OptimizerTests.swift.
O = torch.optim
CASES = {
    "sgd": (lambda a, b: O.SGD([a, b], lr=0.1, foreach=False), None),
    "sgd_weight_decay": (lambda a, b: O.SGD([a, b], lr=0.1, weight_decay=0.01, foreach=False), None),
    "sgd_momentum": (lambda a, b: O.SGD([a, b], lr=0.1, momentum=0.9, foreach=False), None),
    "sgd_dampening": (lambda a, b: O.SGD([a, b], lr=0.1, momentum=0.9, dampening=0.5, foreach=False), None),
    "sgd_nesterov": (lambda a, b: O.SGD([a, b], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01,
                                        foreach=False), None),
    "adagrad": (lambda a, b: O.Adagrad([a, b], lr=0.1, foreach=False), None),
    "adagrad_options": (lambda a, b: O.Adagrad([a, b], lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                               initial_accumulator_value=0.1, eps=1e-8, foreach=False), None),
    "adadelta": (lambda a, b: O.Adadelta([a, b], foreach=False), None),
    "adadelta_options": (lambda a, b: O.Adadelta([a, b], lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.01,
                                                 foreach=False), None),
    "rmsprop": (lambda a, b: O.RMSprop([a, b], lr=0.01, foreach=False), None),
    "rmsprop_momentum": (lambda a, b: O.RMSprop([a, b], lr=0.01, momentum=0.9, weight_decay=0.01,
                                                foreach=False), None),
    "rmsprop_centered": (lambda a, b: O.RMSprop([a, b], lr=0.01, centered=True, foreach=False), None),
    "rmsprop_centered_momentum": (lambda a, b: O.RMSprop([a, b], lr=0.01, alpha=0.9, centered=True,
                                                         momentum=0.5, foreach=False), None),
    "adam": (lambda a, b: O.Adam([a, b], lr=0.01, foreach=False), None),
    "adam_weight_decay": (lambda a, b: O.Adam([a, b], lr=0.01, weight_decay=0.1, foreach=False), None),
    "adam_amsgrad": (lambda a, b: O.Adam([a, b], lr=0.01, amsgrad=True, foreach=False), None),
    "adamw": (lambda a, b: O.AdamW([a, b], lr=0.01, foreach=False), None),
    "adamw_amsgrad": (lambda a, b: O.AdamW([a, b], lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1,
                                           amsgrad=True, foreach=False), None),
    # Parameter groups: the second group overrides lr and turns weight decay off (a "no decay on biases" split).
    "groups_sgd": (lambda a, b: O.SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "weight_decay": 0.0}],
                                      lr=0.1, momentum=0.9, weight_decay=0.01, foreach=False), None),
    "groups_adamw": (lambda a, b: O.AdamW([{"params": [a], "lr": 1e-3}, {"params": [b], "weight_decay": 0.0}],
                                          lr=1e-2, weight_decay=0.1, foreach=False), None),
    "clip_norm_sgd": (lambda a, b: O.SGD([a, b], lr=0.1, momentum=0.9, foreach=False),
                      lambda ps: torch.nn.utils.clip_grad_norm_(ps, max_norm=1.0, foreach=False)),
    "clip_value_adam": (lambda a, b: O.Adam([a, b], lr=0.01, foreach=False),
                        lambda ps: torch.nn.utils.clip_grad_value_(ps, clip_value=0.5, foreach=False)),
}


def write_optimizers():
    out = os.path.join(ROOT, "optimizers")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    initial, grads = data()
    np.save(os.path.join(out, "initial.npy"), initial.numpy())
    np.save(os.path.join(out, "gradients.npy"), grads.numpy())
    for name, (build, clip) in CASES.items():
        a, b = (t.requires_grad_() for t in split(initial))
        opt = build(a, b)
        trajectory = []
        for step in range(STEPS):
            ga, gb = split(grads[step])
            a.grad, b.grad = ga, gb
            if clip is not None:
                clip([a, b])
            opt.step()
            trajectory.append(torch.cat([a.detach().reshape(-1), b.detach()]).numpy().copy())
        np.save(os.path.join(out, f"{name}.npy"), np.stack(trajectory).astype(np.float32))


# Schedules: an SGD optimizer with two groups (lr 0.1 and 0.02), as the Swift test builds it.
def two_groups():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    return O.SGD([{"params": [a]}, {"params": [b], "lr": 0.02}], lr=0.1)


def warmup(opt, then, steps=5, start=0.1):
    return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=start, total_iters=steps), then(opt)],
                          milestones=[steps])


SCHEDULES = {
    "step": lambda o: S.StepLR(o, step_size=7, gamma=0.5),
    "multistep": lambda o: S.MultiStepLR(o, milestones=[10, 25, 25, 40], gamma=0.3),
    "exponential": lambda o: S.ExponentialLR(o, gamma=0.93),
    "cosine": lambda o: S.CosineAnnealingLR(o, T_max=20, eta_min=0.001),
    "cosine_restarts": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=8, T_mult=2, eta_min=1e-4),
    "cosine_restarts_constant_period": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=10),
    "linear": lambda o: S.LinearLR(o, start_factor=0.2, total_iters=10),
    "linear_decay": lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=30),
    "lambda_warmup": lambda o: S.LambdaLR(o, lambda e: min(1.0, (e + 1) / 5)),
    "warmup_cosine": lambda o: warmup(o, lambda o: S.CosineAnnealingLR(o, T_max=45)),
    "warmup_step": lambda o: warmup(o, lambda o: S.StepLR(o, step_size=10, gamma=0.5), steps=4, start=0.25),
    "warmup_multistep": lambda o: warmup(o, lambda o: S.MultiStepLR(o, milestones=[15, 30], gamma=0.1)),
    "warmup_exponential": lambda o: warmup(o, lambda o: S.ExponentialLR(o, gamma=0.95), steps=3),
    "warmup_cosine_restarts": lambda o: warmup(o, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2,
                                                                                          eta_min=1e-3)),
}

# A validation loss that improves, stalls, and improves a little (below and above the threshold).
METRICS = [1.0 / (1 + 0.3 * i) if i < 12 else 0.22 + 0.001 * math.sin(i) - (0.03 if i in (30, 31) else 0.0)
           for i in range(50)]
ACCURACY = [min(0.9, 0.5 + 0.05 * i) + (0.0005 * (i % 3)) for i in range(50)]
PLATEAUS = {
    "plateau": (lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=3, threshold=0.01, cooldown=2,
                                              min_lr=0.005), METRICS),
    "plateau_max_abs": (lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.3, patience=2, threshold=0.001,
                                                      threshold_mode="abs", min_lr=[0.0, 0.001]), ACCURACY),
}


def exact(values):
    """Floats as repr strings, nested lists kept."""
    return [exact(v) if isinstance(v, list) else repr(float(v)) for v in values]


def write_schedules():
    result = {}
    for name, build in SCHEDULES.items():
        opt = two_groups()
        sched = build(opt)
        lrs = [[g["lr"] for g in opt.param_groups]]
        for _ in range(50):
            opt.step()
            sched.step()
            lrs.append([g["lr"] for g in opt.param_groups])
        result[name] = {"lrs": exact(lrs)}
    for name, (build, metrics) in PLATEAUS.items():
        opt = two_groups()
        sched = build(opt)
        lrs = [[g["lr"] for g in opt.param_groups]]
        for m in metrics:
            opt.step()
            sched.step(m)
            lrs.append([g["lr"] for g in opt.param_groups])
        result[name] = {"lrs": exact(lrs), "metrics": exact(metrics)}
    with open(os.path.join(ROOT, "schedules.json"), "w") as f:
        json.dump(result, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    os.makedirs(ROOT, exist_ok=True)
    write_optimizers()
    write_schedules()
