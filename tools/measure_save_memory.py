#!/usr/bin/env python3
"""Measures the peak memory of saving VGG16-sized weights (not run in CI).

Writes a Keras legacy HDF5 file with VGG16's layer names and weight shapes (138M float32,
528 MiB, random values) with measure_load_memory.write_vgg16_shaped, then runs
`ZOO convert IN OUT` for each output format, and `ZOO finetune` of VGG16 from that file (a new
3-class head trained on Tests/Fixtures/images/folder for one epoch, the trunk frozen as by
default; the whole model is saved as the best epoch), and reports each child's peak resident set
(ru_maxrss from wait4) beside the size of the weights. For the fine-tune it also samples the
resident set every 5 ms and reports its peak while a temporary file of the save exists against
its peak before: the save's own share, apart from the batch's activations (which grow with --batch).

Run after a release build:  python3 tools/measure_save_memory.py [ZOO_BINARY ...]
(default .build/release/zoo; give several binaries to compare builds).
"""
import os
import subprocess
import sys
import tempfile
import time

from measure_load_memory import write_vgg16_shaped

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def peak_mib(argv):
    """Runs argv and returns (exit status, peak RSS in MiB)."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.stderr.write(process.stderr.read().decode())
    return process.returncode, usage.ru_maxrss / 1024


def traced_peak_mib(argv, folder):
    """Runs argv, sampling its resident set; returns (exit status, peak MiB, peak MiB before any
    save's temporary file appeared in `folder`, peak MiB while one existed)."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    before = during = 0
    while process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/status") as status:
                rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
        except (OSError, StopIteration):
            break
        saving = any(name.endswith(".tmp") for _, _, names in os.walk(folder) for name in names)
        if saving:
            during = max(during, rss)
        elif not during:
            before = max(before, rss)
        time.sleep(0.005)
    _, status, usage = os.wait4(process.pid, 0) if process.returncode is None else (0, 0, None)
    code = os.waitstatus_to_exitcode(status) if usage else process.returncode
    if code != 0:
        sys.stderr.write(process.stderr.read().decode())
    peak = usage.ru_maxrss / 1024 if usage else max(before, during)
    return code, peak, before, during


def main():
    binaries = sys.argv[1:] or [os.path.join(ROOT, ".build", "release", "zoo")]
    with tempfile.TemporaryDirectory(prefix="convzoo-save-memory-", dir=os.path.join(ROOT, ".build")) as out:
        path = os.path.join(out, "vgg16_shaped.h5")
        weights = write_vgg16_shaped(path)
        print(f"input {path}: {os.path.getsize(path) / 2**20:.1f} MiB file, {weights / 2**20:.1f} MiB of weights")
        for binary in binaries:
            for target, fmt in [("out.h5", "keras-h5"), ("out.weights.h5", "keras3")]:
                argv = [binary, "convert", path, os.path.join(out, target), "--format", fmt]
                if fmt == "keras3":
                    argv += ["--model", "vgg16"]
                status, peak = peak_mib(argv)
                print(f"{binary} convert --format {fmt}: exit {status}, peak RSS {peak:.0f} MiB "
                      f"({peak / (weights / 2**20):.2f}x the weights)")
            for batch in ("1", "4"):
                folder = os.path.join(out, f"tuned-{batch}")
                os.mkdir(folder)
                tuned = os.path.join(folder, "tuned.h5")
                argv = [binary, "finetune", "--model", "vgg16", "--weights", path, "--data",
                        os.path.join(ROOT, "Tests", "Fixtures", "images", "folder"), "--out", tuned,
                        "--epochs", "1", "--batch", batch, "--seed", "1"]
                status, peak, before, during = traced_peak_mib(argv, folder)
                print(f"{binary} finetune vgg16 --batch {batch}, new head (saves {os.path.getsize(tuned) / 2**20:.0f} MiB): "
                      f"exit {status}, peak RSS {peak:.0f} MiB ({peak / (weights / 2**20):.2f}x the weights); "
                      f"before the first save {before:.0f} MiB, while saving {during:.0f} MiB")

if __name__ == "__main__":
    main()
