#!/usr/bin/env python3
"""Writes the weight-file fixtures of the WeightIO tests into Tests/Fixtures/weights/.

Files Keras 3 (torch backend) really writes, for a tiny model conv(3x3, 4) -> bn -> flatten -> dense(5):
  keras3_tiny.weights.h5   model.save_weights (Keras 3 layout layers/<key>/vars/<i>)
  keras3_tiny.keras        model.save (zip holding model.weights.h5)
  keras3_tiny_model.h5     model.save('x.h5'): legacy layout under model_weights/
  keras3_tiny_root.h5      Keras 3's own legacy writer at the root, the layout of Keras 2's save_weights('x.h5')
  keras3_nested.weights.h5 / keras3_nested_model.h5   the same, with conv + bn inside a nested Sequential 'inner'
  keras3_bf16.weights.h5   a bfloat16 Dense (stored as a 2-byte opaque type with attribute dtype="bfloat16")
and files built with h5py for the variants older Keras versions and other tools write, and for bad files.
The expected float32 values are written as .npy files beside them (expected_*/<layer>_<weight>.npy).

Run: KERAS_BACKEND=torch python3 tools/make_weight_fixtures.py
"""
import os
import shutil
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py
import keras
import numpy as np
from keras.src.legacy.saving import legacy_h5_format

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "weights")
rng = np.random.default_rng(5)


def tiny_model():
    inp = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(5, name="dense")(x)
    return keras.Model(inp, x, name="tiny")


def nested_model():
    inner = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="iconv"),
                              keras.layers.BatchNormalization(name="ibn")], name="inner")
    inp = keras.Input((8, 8, 3), name="image")
    x = inner(inp)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(5, name="dense")(x)
    return keras.Model(inp, x, name="nested")


def randomize(model):
    """Distinct values in every weight, BN variances positive, so a swapped or missed weight shows."""
    for layer in model.layers:
        layers = layer.layers if hasattr(layer, "layers") else [layer]
        for sub in layers:
            values = []
            for w in sub.weights:
                v = rng.uniform(-1, 1, size=w.shape).astype(np.float32)
                if "variance" in w.path:
                    v = np.abs(v) + 0.5
                values.append(v)
            if values:
                sub.set_weights(values)


def save_expected(folder, model):
    os.makedirs(os.path.join(OUT, folder), exist_ok=True)
    for layer in model.layers:
        layers = layer.layers if hasattr(layer, "layers") else [layer]
        for sub in layers:
            for w in sub.weights:
                short = w.path.split("/")[-1]
                np.save(os.path.join(OUT, folder, f"{sub.name}_{short}.npy"),
                        np.asarray(keras.ops.convert_to_numpy(w), dtype=np.float32))


def keras_files():
    m = tiny_model()
    randomize(m)
    save_expected("expected_tiny", m)
    m.save_weights(os.path.join(OUT, "keras3_tiny.weights.h5"))
    m.save(os.path.join(OUT, "keras3_tiny.keras"))
    m.save(os.path.join(OUT, "keras3_tiny_model.h5"))
    with h5py.File(os.path.join(OUT, "keras3_tiny_root.h5"), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, m)

    n = nested_model()
    randomize(n)
    save_expected("expected_nested", n)
    n.save_weights(os.path.join(OUT, "keras3_nested.weights.h5"))
    n.save(os.path.join(OUT, "keras3_nested_model.h5"))

    b = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, dtype="bfloat16", name="dbf")], name="bf")
    b.layers[0].set_weights([rng.uniform(-2, 2, size=(4, 3)), rng.uniform(-2, 2, size=(3,))])
    save_expected("expected_bf16", b)
    b.save_weights(os.path.join(OUT, "keras3_bf16.weights.h5"))
    return m


def tiny_values(model):
    """[(layer name, [(weight short name, float32 array)])] for the layers with weights."""
    return [(l.name, [(w.path.split("/")[-1], np.asarray(keras.ops.convert_to_numpy(w), np.float32))
                      for w in l.weights]) for l in model.layers if l.weights]


def strings(values, mode):
    """An attribute value holding `values` the way different writers store strings."""
    if mode == "fixed":      # numpy 'S' array: fixed length, NUL padded (Keras 2)
        return np.array([v.encode() for v in values])
    if mode == "vlen-utf8":  # h5py's default for str
        return np.array(values, dtype=h5py.string_dtype("utf-8"))
    if mode == "vlen-ascii":  # variable-length bytes
        return np.array([v.encode() for v in values], dtype=h5py.string_dtype("ascii"))
    raise ValueError(mode)


def write_legacy(path, layers, *, style="keras2", mode="fixed", backend="tensorflow", version="2.15.0",
                 split=0, weightless=("flatten",), mutate=None):
    """A Keras legacy file at the root, written by hand.

    style: keras2 -> 'l/kernel:0' datasets at l/l/kernel:0; keras1 -> 'l_W_1:0' flat in the layer group.
    split: store layer_names as layer_names0..N-1 in `split` chunks, as Keras does past 64 KB.
    mutate(f): a last change (bad files).
    """
    k1 = {"kernel": "W", "bias": "b", "gamma": "gamma", "beta": "beta",
          "moving_mean": "running_mean", "moving_variance": "running_std"}
    names = [layers[0][0], *weightless, *[l for l, _ in layers[1:]]]
    with h5py.File(path, "w") as f:
        if split:
            for i, chunk in enumerate(np.array_split(np.array(names), split)):
                f.attrs[f"layer_names{i}"] = strings(list(chunk), mode)
        else:
            f.attrs["layer_names"] = strings(names, mode)
        if backend is not None:
            f.attrs["backend"] = backend.encode() if mode == "fixed" else backend
        if version is not None:
            f.attrs["keras_version"] = version.encode() if mode == "fixed" else version
        for name in weightless:
            f.create_group(name).attrs["weight_names"] = np.array([], dtype=np.float64)
        for layer, weights in layers:
            g = f.create_group(layer)
            wnames = [f"{layer}/{w}:0" if style == "keras2" else f"{layer}_{k1[w]}_1:0" for w, _ in weights]
            g.attrs["weight_names"] = strings(wnames, mode)
            for wname, (_, value) in zip(wnames, weights):
                g.create_dataset(wname, data=value)
        if mutate:
            mutate(f)


def hand_built(model):
    layers = tiny_values(model)
    write_legacy(os.path.join(OUT, "keras2_root.h5"), layers)
    write_legacy(os.path.join(OUT, "keras1_flat.h5"), layers, style="keras1", backend="theano", version="1.2.2")
    write_legacy(os.path.join(OUT, "split_vlen_utf8.h5"), layers, mode="vlen-utf8", split=3,
                 backend=None, version=None)
    write_legacy(os.path.join(OUT, "vlen_ascii.h5"), layers, mode="vlen-ascii")

    # float16 conv kernel, float64 dense kernel, big-endian float32 bn gamma, bfloat16 (opaque) bn beta.
    conv, bn, dense = [dict(w) for _, w in layers]
    f16 = conv["kernel"].astype(np.float16)
    f64 = dense["kernel"].astype(np.float64) / 3
    be = bn["gamma"].astype(">f4")
    bf_bits = (bn["beta"].view(np.uint32) >> 16).astype(np.uint16)  # truncated to bfloat16
    typed = [("conv", [("kernel", f16), ("bias", conv["bias"])]),
             ("bn", [("gamma", be), ("beta", bf_bits.view("V2")),
                     ("moving_mean", bn["moving_mean"]), ("moving_variance", bn["moving_variance"])]),
             ("dense", [("kernel", f64), ("bias", dense["bias"])])]

    def tag_bf16(f):
        f["bn/bn/beta:0"].attrs["dtype"] = "bfloat16"
    write_legacy(os.path.join(OUT, "dtypes.h5"), typed, mutate=tag_bf16)
    os.makedirs(os.path.join(OUT, "expected_dtypes"), exist_ok=True)
    for name, value in [("conv_kernel", f16.astype(np.float32)), ("dense_kernel", f64.astype(np.float32)),
                        ("bn_gamma", be.astype(np.float32)),
                        ("bn_beta", (bf_bits.astype(np.uint32) << 16).view(np.float32))]:
        np.save(os.path.join(OUT, "expected_dtypes", name + ".npy"), value)

    def bad(name, mutate, lay=layers):
        write_legacy(os.path.join(OUT, f"bad_{name}.h5"), lay, mutate=mutate)

    def soft(f):
        del f["dense/dense/bias:0"]
        f["dense/dense/bias:0"] = h5py.SoftLink("/conv/conv/bias:0")
    bad("softlink", soft)

    def external(f):
        del f["dense/dense/bias:0"]
        f["dense/dense/bias:0"] = h5py.ExternalLink("keras2_root.h5", "/dense/dense/bias:0")
    bad("extlink", external)

    def virtual(f):
        del f["dense/dense/bias:0"]
        vl = h5py.VirtualLayout(shape=(5,), dtype="f4")
        vl[0:4] = h5py.VirtualSource(f["conv/conv/bias:0"])
        f.create_virtual_dataset("dense/dense/bias:0", vl)
    bad("virtual", virtual)

    def absurd(f):
        del f["dense/dense/kernel:0"]
        f.create_dataset("dense/dense/kernel:0", shape=(1 << 40, 1 << 20), dtype="f4", chunks=(1, 1024))
    bad("absurd", absurd)

    def nonfinite(f):
        k = f["dense/dense/kernel:0"]
        v = k[...]
        v[0, 0], v[1, 1], v[2, 2] = np.nan, np.inf, -np.inf
        k[...] = v
    bad("nonfinite", nonfinite)

    def wrong_shape(f):
        del f["dense/dense/kernel:0"]
        f.create_dataset("dense/dense/kernel:0", data=np.zeros((144, 6), np.float32))
    bad("shape", wrong_shape)

    def wrong_dtype(f):
        del f["dense/dense/kernel:0"]
        f.create_dataset("dense/dense/kernel:0", data=np.zeros((144, 5), np.int32))
    bad("dtype", wrong_dtype)

    def missing(f):
        del f["dense/dense/bias:0"]
    bad("missing", missing)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    model = keras_files()
    hand_built(model)
    with zipfile.ZipFile(os.path.join(OUT, "keras3_tiny.keras")) as z:
        assert "model.weights.h5" in z.namelist()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {sum(len(fs) for _, _, fs in os.walk(OUT))} files, {total // 1024} KB, into {OUT}")


if __name__ == "__main__":
    main()
