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
- lenet5_heap_*.h5: a LeNet-5 file whose `backend` is a variable-length string (as h5py writes a
  scalar bytes or str attribute), with the global heap collection holding that string damaged the ways libhdf5
  does not check: `loop` a free-space object of size 0 (libhdf5 1.10 and h5py's libhdf5 loop for
  ever reading the attribute), `huge` a collection size of 5e18 bytes (libhdf5 1.10 asks malloc for
  it), `past_end` an object running past its collection, `index` the string's object renumbered,
  `short_string` the attribute's string length cut below its object's size (libhdf5 copies the
  object into a buffer of the string's length).
- lenet5_header_continuation_huge.h5: a LeNet-5 file whose group `c1` holds enough attributes for
  its object header to continue in a second chunk, with that chunk's length set to 5e18 bytes
  (libhdf5 1.10 asks malloc for it: "memory allocation failed for on disk image buffer").

Run: python3 tools/make_hostile_fixtures.py
"""
import os
import shutil
import struct
import subprocess
import sys
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


def damaged_heaps():
    clean = os.path.join(OUT, "lenet5_heap_clean.h5")
    lenet_file("lenet5_heap_clean.h5", input_size=np.array([32, 32, 1], np.int64))
    data = bytes(open(clean, "rb").read())
    os.remove(clean)
    heap = data.index(b"GCOL\x01")
    size = struct.unpack_from("<Q", data, heap + 8)[0]
    # The objects: index, reference count, 4 reserved bytes, size, then the data padded to 8 bytes.
    objects, at = {}, heap + 16
    while at + 16 <= heap + size:
        index, _, _, length = struct.unpack_from("<HHIQ", data, at)
        objects[index] = (at, length)
        if index == 0:
            break
        at += 16 + (length + 7) // 8 * 8
    # `backend` (b"tensorflow", a scalar h5py writes as a variable-length string) is object 1.
    string_at, string_length = objects[1]
    assert data[string_at + 16:string_at + 16 + string_length] == b"tensorflow", objects
    free_at = objects[0][0]
    # The attribute's own reference to it: length, collection address, object index.
    reference = data.index(struct.pack("<IQI", string_length, heap, 1))

    def damaged(name, at, value):
        out = bytearray(data)
        out[at:at + len(value)] = value
        open(os.path.join(OUT, name), "wb").write(bytes(out))

    damaged("lenet5_heap_loop.h5", free_at + 8, struct.pack("<Q", 0))
    damaged("lenet5_heap_huge.h5", heap + 8, struct.pack("<Q", 5 * 10**18))
    damaged("lenet5_heap_past_end.h5", string_at + 8, struct.pack("<Q", 10**6))
    damaged("lenet5_heap_index.h5", string_at, struct.pack("<H", 7))
    damaged("lenet5_heap_short_string.h5", reference, struct.pack("<I", 4))
    for name in ["loop", "huge", "past_end", "index", "short_string"]:
        path = os.path.join(OUT, f"lenet5_heap_{name}.h5")
        try:
            result = subprocess.run([sys.executable, "-c", "import h5py, sys; "
                                     "print(h5py.File(sys.argv[1], 'r').attrs['backend'])", path],
                                    capture_output=True, text=True, timeout=20)
            print(f"h5py on lenet5_heap_{name}.h5:", (result.stdout + result.stderr).strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            print(f"h5py on lenet5_heap_{name}.h5: no answer in 20 s")


def huge_continuation():
    target = os.path.join(OUT, "lenet5_header_continuation_huge.h5")
    lenet_file("lenet5_header_continuation_huge.h5", input_size=np.array([32, 32, 1], np.int64))
    with h5py.File(target, "a") as f:
        for i in range(40):
            f["c1"].attrs[f"note{i}"] = np.arange(20)
        address = h5py.h5o.get_info(f["c1"].id).addr
    data = bytearray(open(target, "rb").read())
    # A version 1 object header: its messages start 16 bytes in; continuation messages are type 0x10.
    assert data[address] == 1
    size = struct.unpack_from("<I", data, address + 8)[0]
    at = address + 16
    while at < address + 16 + size:
        kind, length = struct.unpack_from("<HH", data, at)
        if kind == 0x10:
            struct.pack_into("<Q", data, at + 8 + 8, 5 * 10**18)
            break
        at += 8 + length
    else:
        raise SystemExit("no continuation message in c1's object header")
    open(target, "wb").write(bytes(data))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    lenet_file("lenet5_input_4096.h5", input_size=np.array([4096, 4096, 1], np.int64))
    lenet_file("lenet5_input_huge.h5", input_size=np.array([32, 549755813920, 1], np.int64))
    lenet_file("lenet5_bad_preprocessing.h5", input_size=np.array([32, 32, 1], np.int64), preprocessing=b"bogus")
    bad_crc_archive()
    bzip2_archive()
    damaged_group()
    damaged_heaps()
    huge_continuation()
