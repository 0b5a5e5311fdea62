#!/usr/bin/env python3
"""Measures the peak memory of loading a VGG16-sized weight file into ConvZoo (not run in CI).

Writes a Keras legacy HDF5 file with VGG16's layer names and weight shapes (138M float32,
528 MiB, random values) with h5py, then runs the WeightIO test
LoadMemoryMeasurement/testPeakMemoryOfLoadingVGG16SizedFile alone in a fresh process, which
builds an engine model of those shapes, loads the file and reads VmRSS / VmHWM.

With --pth or --safetensors it writes torchvision's full-size VGG16 (random weights, 528 MiB) with
torch.save (zip format) or safetensors.torch.save_file, and with --caffe a full-size
bvlc_alexnet-shaped .caffemodel (V1 `layers`, 4-D blob dims, packed floats, as the published file;
random weights from PyTorch's build of the network, tools/make_caffe_fixtures.py's writer); then it
runs ZooTests.ForeignLoadMemoryMeasurement alone, which loads the file into the zoo's vgg16 (or
alexnet-caffe) and requires the peak above the process baseline to stay within 1.3x the weights.

Run after `swift build -c release -Xswiftc -enable-testing --build-tests`:
    python3 tools/measure_load_memory.py [--pth | --safetensors | --caffe]
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

def vgg16_shapes():
    layers, channels = [], 3
    for block, widths in [(1, [64, 64]), (2, [128, 128]), (3, [256] * 3), (4, [512] * 3), (5, [512] * 3)]:
        for i, width in enumerate(widths):
            layers.append((f"block{block}_conv{i + 1}", [(3, 3, channels, width), (width,)]))
            channels = width
    layers += [("fc1", [(25088, 4096), (4096,)]), ("fc2", [(4096, 4096), (4096,)]),
               ("predictions", [(4096, 1000), (1000,)])]
    return layers


FOREIGN_TEST = "ZooTests.ForeignLoadMemoryMeasurement/testPeakMemoryOfLoadingAFullSizeForeignFile"


def write_vgg16_shaped(path):
    """Writes a Keras legacy HDF5 file with VGG16's layer names and weight shapes (random values,
    seed 0) with h5py; returns the bytes of its weights."""
    rng = np.random.default_rng(0)
    weights = 0
    with h5py.File(path, "w") as f:
        layers = vgg16_shapes()
        f.attrs["layer_names"] = np.array([name.encode() for name, _ in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        for name, shapes in layers:
            g = f.create_group(name)
            names = [f"{name}/{w}:0" for w in ("kernel", "bias")]
            g.attrs["weight_names"] = np.array([n.encode() for n in names])
            for n, shape in zip(names, shapes):
                g.create_dataset(n, data=rng.standard_normal(shape, dtype=np.float32))
                weights += 4 * int(np.prod(shape))
    return weights


def run_alone(test, environment):
    binary = os.path.join(ROOT, ".build", "release", "ConvZooPackageTests.xctest")
    run = subprocess.run([binary, test], env={**os.environ, **environment}, capture_output=True, text=True)
    lines = [l for l in (run.stdout + run.stderr).splitlines() if "MEMORY" in l or "error" in l]
    print("\n".join(lines) or run.stdout + run.stderr)
    sys.exit(run.returncode)


def caffe_alexnet():
    import torch
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import make_caffe_fixtures as writer
    import make_zoo_fixtures as twins
    torch.manual_seed(0)
    net = twins.CaffeAlexNet(1, 4096, 1000, 6)
    twins.init_torch(net, np.random.default_rng(0), None)
    with tempfile.TemporaryDirectory(prefix="convzoo-memory-") as out:
        path = os.path.join(out, "bvlc_alexnet_shaped.caffemodel")
        with open(path, "wb") as f:
            f.write(writer.net("AlexNet", writer.alexnet_layers(net, v1=True, varied=False)))
        del net
        print(f"wrote {os.path.getsize(path) / 2**20:.1f} MiB to {path}")
        run_alone(FOREIGN_TEST, {"CONVZOO_FOREIGN_MEMORY_FILE": path, "CONVZOO_FOREIGN_MEMORY_MODEL": "alexnet-caffe"})


def torchvision_vgg16(safetensors):
    import torch
    import torchvision
    torch.manual_seed(0)
    state = torchvision.models.vgg16(weights=None).state_dict()
    with tempfile.TemporaryDirectory(prefix="convzoo-memory-") as out:
        path = os.path.join(out, "vgg16." + ("safetensors" if safetensors else "pth"))
        if safetensors:
            from safetensors.torch import save_file
            save_file(state, path)
        else:
            torch.save(state, path)
        del state
        print(f"wrote {os.path.getsize(path) / 2**20:.1f} MiB to {path}")
        run_alone(FOREIGN_TEST, {"CONVZOO_FOREIGN_MEMORY_FILE": path, "CONVZOO_FOREIGN_MEMORY_MODEL": "vgg16"})


def main():
    if "--caffe" in sys.argv[1:]:
        return caffe_alexnet()
    if "--pth" in sys.argv[1:] or "--safetensors" in sys.argv[1:]:
        return torchvision_vgg16("--safetensors" in sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="convzoo-memory-") as out:
        path = os.path.join(out, "vgg16_shaped.h5")
        write_vgg16_shaped(path)
        print(f"wrote {os.path.getsize(path) / 2**20:.1f} MiB to {path}")
        run_alone("WeightIOTests.LoadMemoryMeasurement/testPeakMemoryOfLoadingVGG16SizedFile", {"CONVZOO_MEMORY_FILE": path})


if __name__ == "__main__":
    main()
