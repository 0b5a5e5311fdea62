#!/usr/bin/env python3
"""Writes Tests/Fixtures/weights/keras_resnet50_full.h5: a real Keras `model.save('x.h5')` file of ResNet50.

Keras Applications' ResNet50 (v1) layer graph, built with Keras's own stack code (make_zoo_fixtures'
keras_resnet50), with every filter count divided by 64 (conv1 1 filter, stages 1/2/4/8, 3 classes, 32x32 input) so that the file stays
small while its `model_config` attribute (the whole ResNet50 graph as JSON) is still far over HDF5's
64 KB limit for a compact attribute, as the full-size model's 153 KB one is. The weights are random;
each weight's values are also written as expected_resnet50_full.npz (member `layer/weight`).

Run: KERAS_BACKEND=torch python3 tools/make_full_model_fixture.py
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py
import keras
import numpy as np

from make_zoo_fixtures import keras_resnet50

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "weights")


def main():
    keras.utils.set_random_seed(15)
    model = keras_resnet50(64, classes=3, size=32)
    rng = np.random.default_rng(15)
    for w in model.weights:
        w.assign(rng.standard_normal(tuple(w.shape)).astype("float32"))
    path = os.path.join(OUT, "keras_resnet50_full.h5")
    model.save(path)
    expected = {}
    for layer in model.layers:
        for w in layer.weights:
            expected[f"{layer.name}/{w.name}"] = np.asarray(w.numpy(), dtype=np.float32)
    np.savez(os.path.join(OUT, "expected_resnet50_full.npz"), **expected)
    with h5py.File(path, "r") as f:
        config = f.attrs["model_config"]
        length = len(config if isinstance(config, (bytes, str)) else config.tobytes())
    assert length > 65536, f"model_config is only {length} bytes"
    print(f"wrote {path}: {os.path.getsize(path)} bytes, model_config {length} bytes, "
          f"{model.count_params()} parameters")


if __name__ == "__main__":
    main()
