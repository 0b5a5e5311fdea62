#!/usr/bin/env python3
"""Writes a state_dict in PyTorch's oldest torch.save format, the tar archive, for the Swift reader's
parity and bad-file tests, and checks it with torch.load, the real reader.

    python3 tools/make_tar_fixture.py      (after tools/make_zoo_fixtures.py)

No torch of today writes this format (torch 0.1.x did), but torch/serialization.py still reads it:
`_legacy_load`'s `legacy_load` opens a tar of four members, which this script lays out as that
reader expects and as torch 0.1's `_save` wrote them (pickle protocol 2):
  sys_info  a pickled dict(protocol_version=1001, little_endian=True, type_sizes=...)
  pickle    the state_dict; each tensor pickled as a persistent id, its key as text
  tensors   a pickled count, then per tensor a pickled (key, storage key, tensor type) and its
            metadata: ndim as 4 bytes little-endian, 4 unused bytes, ndim sizes and ndim strides
            (8 bytes each) and the storage offset (8 bytes)
  storages  a pickled count, then per storage a pickled (key, location, storage type), its element
            count (8 bytes) and its elements; then a pickled list of storage views
            (key, root key, element offset, element count)

The resnet50 twin's state_dict (Tests/Fixtures/foreign/resnet50.pth, read with torch.load) is written with three things a reader must get
right: bn1's four tensors share one storage at different offsets, fc.bias lives in a storage that is
a view into another storage, and fc.weight is non-contiguous (its transpose is what is stored).
torch.load(weights_only=False) must give back every tensor exactly (values, shapes, strides) and the
twin loaded from it must give what it gives loaded from resnet50.pth, bit for bit (and
Tests/Fixtures/zoo/resnet50/output.npy within the parity tolerance). Written to
Tests/Fixtures/foreign/resnet50-tar.pth; beside it three small hostile files that lie (see HOSTILE).
"""
import io
import os
import pickle
import struct
import sys
import tarfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_foreign_fixtures as foreign  # noqa: E402
import make_zoo_fixtures as zoo  # noqa: E402

OUT = os.path.join(foreign.OUT, "resnet50-tar.pth")
STORAGE_TYPES = {torch.float32: torch.FloatStorage, torch.int64: torch.LongStorage}
TENSOR_TYPES = {torch.float32: torch.FloatTensor, torch.int64: torch.LongTensor}


def layout(state, lie=None):
    """(storages, views, tensors): storage key -> flat elements; view key -> (root, offset, count);
    tensor name -> (tensor key, storage key, sizes, strides, offset)."""
    storages, views, tensors = {}, [], {}
    next_key = iter(range(1000, 100000))
    shared = next(next_key)
    bn1 = [k for k in state if k.startswith("bn1.") and state[k].dtype == torch.float32]
    storages[shared] = torch.cat([state[k].flatten() for k in bn1])
    offset = 0
    for name in bn1:
        t = state[name]
        tensors[name] = (next(next_key), shared, tuple(t.shape), tuple(t.stride()), offset)
        offset += t.numel()
    for name, t in state.items():
        if name in tensors:
            continue
        if name == "fc.weight":    # stored transposed: a non-contiguous view (out, in) with strides (1, out)
            key = next(next_key)
            storages[key] = t.t().contiguous().flatten()
            tensors[name] = (next(next_key), key, tuple(t.shape), (1, t.shape[0]), 0)
        elif name == "fc.bias":    # a storage that views elements 3.. of a root storage
            root, view = next(next_key), next(next_key)
            storages[root] = torch.cat([torch.arange(3, dtype=t.dtype), t.flatten(), torch.arange(2, dtype=t.dtype)])
            views.append((view, root, 3, t.numel() + (10 if lie == "view" else 0)))
            tensors[name] = (next(next_key), view, tuple(t.shape), tuple(t.stride()), 0)
        else:
            key = next(next_key)
            storages[key] = t.contiguous().flatten()
            tensors[name] = (next(next_key), key, tuple(t.shape), tuple(t.stride()), 0)
    if lie == "tensor":    # conv1.weight starts 5 elements in: its last elements lie past its storage
        key, storage, sizes, strides, _ = tensors["conv1.weight"]
        tensors["conv1.weight"] = (key, storage, sizes, strides, 5)
    return storages, views, tensors


def member(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_tar(state, path, lie=None):
    storages, views, tensors = layout(state, lie)
    dtype_of = {}
    for name, (_, storage, *_rest) in tensors.items():
        dtype_of[storage] = state[name].dtype
    for view, root, _, _ in views:
        dtype_of[root] = dtype_of[view]

    sys_info = pickle.dumps(dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=8)),
                            protocol=2)

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, torch.Tensor):
                return str(ids[id(obj)])
            return None

    ids = {id(t): tensors[name][0] for name, t in state.items()}
    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(state)

    t = io.BytesIO()
    pickle.dump(len(tensors), t, protocol=2)
    for name, (key, storage, sizes, strides, offset) in tensors.items():
        pickle.dump((key, storage, TENSOR_TYPES[state[name].dtype]), t, protocol=2)
        t.write(struct.pack("<i", len(sizes)) + b"\0\0\0\0")
        t.write(struct.pack(f"<{len(sizes)}q", *sizes) + struct.pack(f"<{len(strides)}q", *strides))
        t.write(struct.pack("<q", offset))

    s = io.BytesIO()
    pickle.dump(len(storages), s, protocol=2)
    for i, (key, elements) in enumerate(storages.items()):
        pickle.dump((key, "cpu", STORAGE_TYPES[elements.dtype]), s, protocol=2)
        s.write(struct.pack("<q", elements.numel() + (10**6 if lie == "storage" and i == 0 else 0)))
        s.write(elements.numpy().tobytes())
    pickle.dump(views, s, protocol=2)

    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        member(tar, "sys_info", sys_info)
        member(tar, "pickle", buffer.getvalue())
        member(tar, "tensors", t.getvalue())
        member(tar, "storages", s.getvalue())


# name -> the lie: a storage count past the 'storages' member, conv1.weight starting past the
# start of its storage so its end lies outside it, fc.bias's storage viewing past its root.
HOSTILE = {"tar-storage-past-member.pth": "storage", "tar-tensor-past-storage.pth": "tensor",
           "tar-view-past-root.pth": "view"}


def main():
    small = {"conv1.weight": torch.arange(8.0).reshape(2, 1, 2, 2), "bn1.weight": torch.ones(2), "bn1.bias": torch.zeros(2),
             "fc.weight": torch.arange(6.0).reshape(3, 2), "fc.bias": torch.arange(3.0)}
    for name, lie in HOSTILE.items():
        write_tar(small, os.path.join(foreign.OUT, name), lie)
    state = torch.load(os.path.join(foreign.OUT, "resnet50.pth"), weights_only=True)
    write_tar(state, OUT)

    loaded = torch.load(OUT, weights_only=False)
    assert list(loaded) == list(state), "torch.load gives other keys"
    for name, t in state.items():
        got = loaded[name]
        assert got.dtype == t.dtype and got.shape == t.shape and torch.equal(got, t), f"{name} differs after torch.load"
    assert loaded["fc.weight"].stride() == (1, state["fc.weight"].shape[0]) and not loaded["fc.weight"].is_contiguous()
    assert loaded["bn1.bias"].storage_offset() > 0

    directory = os.path.join(zoo.OUT, "resnet50")
    x = np.load(os.path.join(directory, "input.npy"))
    outputs = []
    for weights in (loaded, state):
        model = foreign.resnet("resnet50", 32)()
        model.load_state_dict(weights)
        model.eval()
        outputs.append(zoo.run_torch(model, x, {})[0])
    assert np.array_equal(outputs[0], outputs[1]), "the twin from the tar file predicts otherwise than from resnet50.pth"
    expected = np.load(os.path.join(directory, "output.npy"))
    assert np.abs(outputs[0] - expected).max() <= 1e-4 * max(1, np.abs(expected).max()), "the twin does not give output.npy"
    print(f"{OUT}: {os.path.getsize(OUT) / 1024:.0f} KB; torch.load gives every tensor and the twin's output")


if __name__ == "__main__":
    main()
