#!/usr/bin/env python3
"""Renders a `zoo evaluate --report` page with headless Chromium and checks the picture is not blank.

    python3 tools/check_report.py                      # evaluates the shipped LeNet-5 on the digits first
    python3 tools/check_report.py --report page.html --png shot.png

Without --report it runs the built binary (.build/release/zoo; `make build` first):
`zoo evaluate --weights weights/lenet5-digits.h5 --data datasets/digits --report <tmp>/report.html`,
whose weights have their training curves beside them, so every section is on the page.

Chromium (Debian's `chromium`) renders the page offline: every network request goes to a proxy that
does not exist and every host name fails to resolve, so a page that needed anything from outside
would show the gap. The screenshot (1200 x 2400, the page's top) is then checked:
  - not blank: at least 5% of the pixels are not the background, the gray levels vary (standard
    deviation >= 20) and there are at least 64 distinct colours;
  - the confusion heat map is drawn: pixels of its dark blue (ConfusionMatrixPlot.fullColour, 8 48 107,
    within 24 per channel);
  - Grad-CAM overlays are drawn (when the page has mistakes): warm pixels (red high, blue low).
Exit status 0 when every check passes, 1 otherwise; the figures are printed either way.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
WIDTH, HEIGHT = 1200, 2400


def make_report(folder):
    zoo = os.path.join(ROOT, ".build", "release", "zoo")
    if not os.path.exists(zoo):
        sys.exit(f"{zoo} not found: run `make build` first, or give --report")
    report = os.path.join(folder, "report.html")
    subprocess.run([zoo, "evaluate", "--weights", os.path.join(ROOT, "weights", "lenet5-digits.h5"),
                    "--data", os.path.join(ROOT, "datasets", "digits"), "--out", os.path.join(folder, "confusion.csv"),
                    "--report", report, "--mistakes", "7"], check=True, stdout=subprocess.DEVNULL)
    return report


def render(report, png, folder):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not found (Debian: apt-get install chromium)")
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
               "--disable-background-networking", "--no-first-run", f"--user-data-dir={folder}/profile",
               f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={os.path.abspath(png)}",
               "file://" + os.path.abspath(report)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not os.path.exists(png):
        sys.exit(f"chromium failed ({result.returncode}):\n{result.stderr[-2000:]}")


def check(png, expect_overlays):
    image = Image.open(png).convert("RGB")
    pixels = np.asarray(image).reshape(-1, 3).astype(np.int32)
    n = len(pixels)
    values, counts = np.unique(pixels, axis=0, return_counts=True)
    background = tuple(int(v) for v in values[counts.argmax()])
    ink = float((np.abs(pixels - np.array(background)).max(axis=1) > 16).mean())
    gray = pixels @ np.array([0.299, 0.587, 0.114])
    deviation = float(gray.std())
    colours = len(values)
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    dark_blue = int(((np.abs(r - 8) <= 24) & (np.abs(g - 48) <= 24) & (np.abs(b - 107) <= 24)).sum())
    warm = int(((r >= 200) & (b <= 100) & (r - b >= 120)).sum())
    print(f"{png}: {image.width}x{image.height}, background {background}, {100 * ink:.1f}% ink, "
          f"gray std {deviation:.1f}, {colours} colours, {dark_blue} heat-map blue pixels, {warm} warm pixels")
    checks = [
        ("size", (image.width, image.height) == (WIDTH, HEIGHT)),
        ("ink >= 5%", ink >= 0.05),
        ("gray std >= 20", deviation >= 20),
        ("colours >= 64", colours >= 64),
        ("confusion heat-map blue", dark_blue >= 100),
    ]
    if expect_overlays:
        checks.append(("Grad-CAM warm pixels", warm >= 50))
    failed = [name for name, ok in checks if not ok]
    for name, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    return not failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--report", help="the HTML page (default: evaluate the shipped LeNet-5 on the digits)")
    parser.add_argument("--png", default="report.png", help="where the screenshot goes (default: report.png)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zoo-report-") as folder:
        report = args.report or make_report(folder)
        with open(report, encoding="utf-8") as f:
            expect_overlays = 'class="gradcam"' in f.read()
        render(report, args.png, folder)
    sys.exit(0 if check(args.png, expect_overlays) else 1)


if __name__ == "__main__":
    main()
