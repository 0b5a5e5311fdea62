"""Writes Tests/Fixtures/hostile/: weight files a user could be handed that must be refused clearly.

- lenet5_input_4096.h5, lenet5_input_huge.h5: a LeNet-5 file (zeros, gzip-compressed, so tiny)
  whose untrusted `convzoo_input_size` is absurd; `zoo predict` once built a 41 GB model from it.
- lenet5_bad_preprocessing.h5: the same with an unknown `convzoo_preprocessing`.
- keras3_tiny_bad_crc.keras: keras3_tiny.keras with one byte of a weight changed inside the stored
  `model.weights.h5`, the CRC-32 left as it was; Python's zipfile refuses it ("Bad CRC-32").
- keras3_tiny_bzip2.keras: keras3_tiny.keras with its entries compressed by bzip2, which Python's
  zipfile reads and ZIPFoundation does not.
- keras3_tiny_damaged_group.weights.h5: keras3_tiny.weights.h5 with the object header of
  `layers/dense/vars` overwritten; h5py cannot open that group.

Run: python3 tools/make_hostile_fixtures.py
"""
import os
import shutil
import struct
import zipfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "..", "Tests", "Fixtures", "weights")
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "hostile")

LENET = [("c1", (5, 5, 1, 6)), ("c3", (5, 5, 6, 16)), ("c5", (5, 5, 16, 120)), ("f6", (120, 84)),
         ("predictions", (84, 10))]


def lenet_file(name, **metadata):
    with h5py.File(os.path.join(OUT, name), "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n, _ in LENET])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["convzoo_architecture"] = b"lenet5"
        for key, value in metadata.items():
            f.attrs["convzoo_" + key] = value
        for layer, shape in LENET:
            g = f.create_group(layer)
            g.attrs["weight_names"] = np.array([f"{layer}/kernel:0".encode(), f"{layer}/bias:0".encode()])
            g.create_dataset(f"{layer}/kernel:0", data=np.zeros(shape, np.float32), compression="gzip")
            g.create_dataset(f"{layer}/bias:0", data=np.zeros(shape[-1], np.float32), compression="gzip")


def bad_crc_archive():
    source = os.path.join(WEIGHTS, "keras3_tiny.keras")
    target = os.path.join(OUT, "keras3_tiny_bad_crc.keras")
    with zipfile.ZipFile(source) as z:
        weights = z.read("model.weights.h5")
    # Where the dense kernel's first float sits inside model.weights.h5.
    scratch = target + ".weights.h5"
    open(scratch, "wb").write(weights)
    with h5py.File(scratch, "r") as f:
        inner = f["layers/dense/vars/0"].id.get_offset()
    os.remove(scratch)
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as out:
        for info in z.infolist():
            out.writestr(info.filename, z.read(info.filename), compress_type=zipfile.ZIP_STORED)
    data = bytearray(open(target, "rb").read())
    with zipfile.ZipFile(target) as z:
        info = z.getinfo("model.weights.h5")
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    at = info.header_offset + 30 + name_length + extra_length + inner
    data[at] ^= 0x40
    open(target, "wb").write(bytes(data))
    try:
        with zipfile.ZipFile(target) as z:
            z.read("model.weights.h5")
        raise SystemExit("zipfile accepted the damaged archive")
    except zipfile.BadZipFile as e:
        print("zipfile refuses keras3_tiny_bad_crc.keras:", e)


def bzip2_archive():
    with zipfile.ZipFile(os.path.join(WEIGHTS, "keras3_tiny.keras")) as z, \
            zipfile.ZipFile(os.path.join(OUT, "keras3_tiny_bzip2.keras"), "w", zipfile.ZIP_BZIP2) as out:
        for info in z.infolist():
            out.writestr(info.filename, z.read(info.filename))


def damaged_group():
    target = os.path.join(OUT, "keras3_tiny_damaged_group.weights.h5")
    shutil.copyfile(os.path.join(WEIGHTS, "keras3_tiny.weights.h5"), target)
    with h5py.File(target, "r") as f:
        address = h5py.h5o.get_info(f["layers/dense/vars"].id).addr
    data = bytearray(open(target, "rb").read())
    data[address:address + 16] = b"\xff" * 16
    open(target, "wb").write(bytes(data))
    try:
        with h5py.File(target, "r") as f:
            f["layers/dense/vars"]
        raise SystemExit("h5py opened the damaged group")
    except (KeyError, OSError, RuntimeError) as e:
        print("h5py cannot open layers/dense/vars:", e)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    lenet_file("lenet5_input_4096.h5", input_size=np.array([4096, 4096, 1], np.int64))
    lenet_file("lenet5_input_huge.h5", input_size=np.array([32, 549755813920, 1], np.int64))
    lenet_file("lenet5_bad_preprocessing.h5", input_size=np.array([32, 32, 1], np.int64), preprocessing=b"bogus")
    bad_crc_archive()
    bzip2_archive()
    damaged_group()
