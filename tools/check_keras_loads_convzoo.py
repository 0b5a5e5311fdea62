#!/usr/bin/env python3
"""Checks that Keras itself loads the weight files ConvZoo writes (not run in CI: needs Keras).

Runs the WeightIO test that writes convzoo_tiny.h5 (Keras legacy HDF5) and
convzoo_tiny.weights.h5 (Keras 3) from the Keras fixture's weights, then loads each with
`model.load_weights` into the fixture's Keras model and compares every weight and the
predictions with the original values.

Run after `swift build -c release -Xswiftc -enable-testing --build-tests`:
    KERAS_BACKEND=torch python3 tools/check_keras_loads_convzoo.py
"""
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_weight_fixtures import tiny_model  # noqa: E402

EXPECTED = os.path.join(ROOT, "Tests", "Fixtures", "weights", "expected_tiny")


def main():
    out = tempfile.mkdtemp(prefix="convzoo-keras-check-")
    binary = os.path.join(ROOT, ".build", "release", "ConvZooPackageTests.xctest")
    subprocess.run([binary, "WeightIOTests.WeightWriterTests/testKerasWeightsSurviveConvZooFiles"], check=True,
                   env={**os.environ, "CONVZOO_KERAS_EXPORT_DIR": out}, stdout=subprocess.DEVNULL)
    reference = tiny_model()
    reference.set_weights([np.load(os.path.join(EXPECTED, f"{layer}_{w}.npy")) for layer, ws in
                           [("conv", ["kernel", "bias"]), ("bn", ["gamma", "beta", "moving_mean", "moving_variance"]),
                            ("dense", ["kernel", "bias"])] for w in ws])
    x = np.random.default_rng(0).uniform(-1, 1, size=(2, 8, 8, 3)).astype(np.float32)
    want = np.asarray(reference.predict(x, verbose=0))
    failures = 0
    for name in ["convzoo_tiny.h5", "convzoo_tiny.weights.h5"]:
        model = tiny_model()
        model.load_weights(os.path.join(out, name))
        same = all(np.array_equal(a, b) for a, b in zip(model.get_weights(), reference.get_weights()))
        got = np.asarray(model.predict(x, verbose=0))
        ok = same and np.array_equal(got, want)
        failures += not ok
        print(f"{name}: weights {'identical' if same else 'DIFFER'}, predictions max |diff| "
              f"{np.abs(got - want).max():.3g} -> {'OK' if ok else 'FAIL'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
