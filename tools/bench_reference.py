#!/usr/bin/env python3
"""Throughput of ConvZoo against PyTorch and ONNX Runtime on this machine, interleaved.

For each model and batch size it runs, in turn, `zoo bench --model M --batch B`, the torchvision
model in PyTorch and the same model exported to ONNX in ONNX Runtime (default session options,
spinning workers on, as it ships), all on 2 threads with random weights, `--rounds` times, and prints the median images/s of each and ConvZoo's ratios. The machine
is noisy, so only figures from the same run are compared.

    python3 tools/bench_reference.py [--models resnet50,vgg16,googlenet] [--batches 1,16] [--train]

Needs torch, torchvision and onnxruntime (pip); the zoo binary from `make build`.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torchvision

ZOO = os.path.join(os.path.dirname(__file__), "..", ".build", "release", "zoo")


def timed(fn, seconds):
    fn()
    times = []
    end = time.time() + seconds
    while time.time() < end or len(times) < 2:
        t = time.time()
        fn()
        times.append(time.time() - t)
    return statistics.median(times)


def zoo_rate(model, batch, seconds, train, winograd=None):
    args = [ZOO, "bench", "--model", model, "--batch", str(batch), "--seconds", str(seconds)] + (["--train"] if train else [])
    args += ["--winograd", str(winograd)] if winograd is not None else []
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"([\d.]+) images/s", out).group(1))


def torch_rate(net, batch, seconds, train):
    x = torch.randn(batch, 3, 224, 224)
    if not train:
        net.eval()
        with torch.no_grad():
            return batch / timed(lambda: net(x), seconds)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    y = torch.randint(0, 1000, (batch,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        out = net(x)
        out = out.logits if hasattr(out, "logits") else out
        loss_fn(out, y).backward()
        opt.step()
    return batch / timed(step, seconds)


def export_onnx(net, path):
    net.eval()
    torch.onnx.export(net, torch.randn(1, 3, 224, 224), path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)
    return path


def ort_rate(path, batch, seconds):
    """ONNX Runtime as it ships (default session options: graph optimizations and spinning workers
    on), 2 threads. The session lives only for this measurement: its spinning workers would
    otherwise steal the cores from the next one."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    x = torch.randn(batch, 3, 224, 224).numpy()
    rate = batch / timed(lambda: session.run(None, {"x": x}), seconds)
    del session
    return rate


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="resnet50,vgg16,googlenet")
    p.add_argument("--batches", default="1,16")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--train", action="store_true")
    p.add_argument("--winograd", type=int, choices=[0, 2, 4], help="ConvZoo's Winograd tile (zoo bench --winograd)")
    a = p.parse_args()
    torch.set_num_threads(2)
    print(f"{'model':<11}{'batch':>6}{'zoo':>9}{'torch':>9}{'ort':>9}{'zoo/torch':>11}{'zoo/ort':>9}   (images/s{', training step' if a.train else ''})")
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models.split(","):
            kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
            net = getattr(torchvision.models, name)(weights=None, **kwargs)
            onnx = None if a.train else export_onnx(net, os.path.join(tmp, name + ".onnx"))
            for b in map(int, a.batches.split(",")):
                z, t, o = [], [], []
                for _ in range(a.rounds):
                    z.append(zoo_rate(name, b, a.seconds, a.train, a.winograd))
                    t.append(torch_rate(net, b, a.seconds, a.train))
                    if onnx is not None:
                        o.append(ort_rate(onnx, b, a.seconds))
                zm, tm = statistics.median(z), statistics.median(t)
                om = statistics.median(o) if o else float("nan")
                print(f"{name:<11}{b:>6}{zm:>9.2f}{tm:>9.2f}{om:>9.2f}{zm / tm:>11.2f}{zm / om:>9.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
