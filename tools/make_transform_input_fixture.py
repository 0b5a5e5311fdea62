#!/usr/bin/env python3
"""Writes PyTorch's output of the googlenet twin with torchvision's transform_input on, for the test of
`--transform-input` (and ModelOptions.transformInput) on a bare torchvision GoogLeNet file.

    python3 tools/make_transform_input_fixture.py      (after tools/make_foreign_fixtures.py)

The twin (tools/make_foreign_fixtures.py's) gets the weights of Tests/Fixtures/foreign/googlenet.safetensors,
is checked to give Tests/Fixtures/zoo/googlenet/output.npy with transform_input off, then runs as
torchvision's GoogLeNet runs with `transform_input=True` (its `_transform_input` rescales each
channel from ImageNet's normalization to (x - 0.5) / 0.5) on Tests/Fixtures/zoo/googlenet/input.npy.
Written to Tests/Fixtures/foreign/googlenet-transform-input-output.npy.
"""
import os
import sys

import numpy as np
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_foreign_fixtures as foreign  # noqa: E402
import make_zoo_fixtures as zoo  # noqa: E402

OUT = os.path.join(foreign.OUT, "googlenet-transform-input-output.npy")


def main():
    _, build, _ = foreign.TWINS["googlenet"]
    model = build()
    model.load_state_dict(load_file(os.path.join(foreign.OUT, "googlenet.safetensors")))
    model.eval()
    x = np.load(os.path.join(zoo.OUT, "googlenet", "input.npy"))
    plain, _ = zoo.run_torch(model, x, {})
    expected = np.load(os.path.join(zoo.OUT, "googlenet", "output.npy"))
    assert np.abs(plain - expected).max() <= 1e-4 * max(1, np.abs(expected).max()), "not the googlenet twin's weights"
    model.transform_input = True
    out, _ = zoo.run_torch(model, x, {})
    assert not np.allclose(out, plain), "transform_input changed nothing"
    np.save(OUT, out.astype(np.float32))
    print(f"{OUT}: {out.shape}, max |change| from transform_input {np.abs(out - plain).max():.3g}")


if __name__ == "__main__":
    main()
