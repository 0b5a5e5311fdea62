#!/usr/bin/env python3
"""Writes the image fixtures in Tests/Fixtures/images/ with Pillow, Keras and torchvision.

Run from the repository root:  KERAS_BACKEND=torch python3 tools/make_image_fixtures.py

Image files (small, 40x30 .. 64x48; the pattern mixes smooth gradients, edges and noise so that
JPEG chroma subsampling and the resize filters all matter):
  photo.jpg            baseline JPEG, 4:2:0, 64x48
  progressive.jpg      progressive JPEG, 40x30
  grayscale.jpg        grayscale JPEG, 40x30
  cmyk.jpg             CMYK JPEG (Adobe-inverted, as Pillow writes it), 40x30
  exif6.jpg            photo.jpg's pixels with EXIF orientation 6 (rotate 90 clockwise to view)
  truncated.jpg        photo.jpg cut after 60% of its bytes
  not_an_image.jpg     text with a .jpg name
  rgb.png, rgba.png, gray.png, gray_alpha.png, gray4.png (4-bit gray),
  palette.png          8-bit palette with a tRNS chunk (transparent entries)
  gray16.png, rgb16.png  16-bit samples
  orientation1..8.png  5x3 RGB with an eXIf chunk holding that orientation

References (.npy):
  <stem>_rgb.npy, <stem>_l.npy   uint8 (H, W, C): Image.open(f).convert('RGB') / convert('L')
  exif6_upright.npy              uint8: ImageOps.exif_transpose(open('exif6.jpg')).convert('RGB')
  orientation<k>_upright.npy     uint8: ImageOps.exif_transpose of orientation<k>.png
  gray16_highbyte.npy            uint8: Pillow's 16-bit values >> 8. Pillow's own convert('L') of a
                                 16-bit gray PNG clips every value above 255 to 255 (a white image);
                                 ConvZoo keeps the high byte instead, as Pillow does for 16-bit RGB.
  keras_<stem>_<H>x<W>_<interp>.npy  uint8 (H, W, C) (whole float32 values): img_to_array(load_img(f, target_size=(H, W),
                                 interpolation=interp[, color_mode='grayscale' for _gray]))
  torch_<stem>_resize<R>_crop<C>.npy uint8 (C, C, 3): torchvision Resize(R) + CenterCrop(C) on
                                 Image.open(f).convert('RGB') (before ToTensor), with R, C small
                                 stand-ins for 256/232 and 224.
  torch_photo_resize31_crop28_normalized.npy float32 (28, 28, 3): the same through ToTensor and
                                 Normalize(ImageNet mean, std), back to HWC.
  preprocess_input.npy           float32 (1, 20, 28, 3): keras_photo_20x28_bilinear as a batch
  preprocess_<mode>.npy          float32: keras.applications.imagenet_utils.preprocess_input(mode=mode)

An image folder, folder/<class>/..., with classes whose code-point order differs from a
case-insensitive one (Dog, ant, cat), nested folders whose path order matters ("sub dir" sorts
before "sub/deeper"), upper-case extensions, a text file that is skipped by name, and two files
torchvision lists but cannot read (broken.jpg truncated, text.png not an image):
  folder_samples.txt   torchvision ImageFolder(folder).samples: "<path relative to folder>\t<label>" lines
  folder_classes.txt   ImageFolder(folder).classes, one per line

A tensor dataset: tensors.h5 (x float32 (6, 4, 5, 1), y int64 (6,), root attribute class_names)
and the same arrays as tensors_x.npy (float32) and tensors_y.npy (uint8).
"""
import os
import shutil
import warnings
import struct
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

from pathlib import Path

import h5py
import numpy as np
import torch
from keras.applications import imagenet_utils
from keras.utils import img_to_array, load_img
from PIL import Image, ImageOps
from torchvision import datasets, transforms

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "images"
rng = np.random.default_rng(20240711)


def pattern(h, w):
    """A photo-like RGB test card: gradients, a disc, sharp bars and mild noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / (w - 1)
    g = 255 * y / (h - 1)
    b = 128 + 100 * np.sin(x / 3.0) * np.cos(y / 5.0)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(h, w) * 0.25) ** 2
    r[disc], g[disc], b[disc] = 250, 40, 30
    bars = (x.astype(int) // 3) % 2 == 0
    bars &= y > h * 0.75
    r[bars], g[bars], b[bars] = 10, 10, 10
    a = np.stack([r, g, b], axis=-1) + rng.normal(0, 6, (h, w, 3))
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def save_npy(name, a, dtype):
    np.save(OUT / f"{name}.npy", np.ascontiguousarray(a, dtype=dtype))


def save_keras(name, a):
    """img_to_array's float32 holds whole pixel values; stored as uint8 (a quarter of the bytes)."""
    assert a.dtype == np.float32 and np.array_equal(a, np.rint(a)) and a.min() >= 0 and a.max() <= 255
    save_npy(name, a, np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path, width, height, color_type, depth, rows):
    """A PNG from raw scanlines (Pillow cannot write 16-bit RGB or 4-bit gray)."""
    raw = b"".join(b"\x00" + row for row in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 9))
                     + png_chunk(b"IEND", b""))


def write_images():
    photo = Image.fromarray(pattern(48, 64))
    photo.save(OUT / "photo.jpg", quality=90)
    small = Image.fromarray(pattern(30, 40))
    small.save(OUT / "progressive.jpg", quality=85, progressive=True)
    small.convert("L").save(OUT / "grayscale.jpg", quality=90)
    small.convert("CMYK").save(OUT / "cmyk.jpg", quality=90)

    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(OUT / "exif6.jpg", quality=90, exif=exif.tobytes())

    data = (OUT / "photo.jpg").read_bytes()
    (OUT / "truncated.jpg").write_bytes(data[: int(len(data) * 0.6)])
    (OUT / "not_an_image.jpg").write_text("This is a text file with a .jpg name.\n")

    small.save(OUT / "rgb.png")
    alpha = np.linspace(0, 255, 30 * 40).reshape(30, 40).astype(np.uint8)
    rgba = np.dstack([np.asarray(small), alpha])
    Image.fromarray(rgba, "RGBA").save(OUT / "rgba.png")
    small.convert("L").save(OUT / "gray.png")
    Image.fromarray(np.dstack([np.asarray(small.convert("L")), alpha]), "LA").save(OUT / "gray_alpha.png")
    palette = small.quantize(colors=16)
    palette.save(OUT / "palette.png", transparency=bytes([0, 128, 255] + [255] * 13))

    gray4 = (np.asarray(small.convert("L")) >> 4).astype(np.uint8)
    write_png(OUT / "gray4.png", 40, 30, 0, 4,
              [bytes((int(r[i]) << 4) | int(r[i + 1]) for i in range(0, 40, 2)) for r in gray4])
    wide = np.asarray(small).astype(np.uint16) * 257 + rng.integers(0, 257, (30, 40, 3)).astype(np.uint16)
    write_png(OUT / "rgb16.png", 40, 30, 2, 16, [row.astype(">u2").tobytes() for row in wide])
    write_png(OUT / "gray16.png", 40, 30, 0, 16, [row.astype(">u2").tobytes() for row in wide[..., 1]])

    tiny = Image.fromarray(np.arange(5 * 3 * 3, dtype=np.uint8).reshape(3, 5, 3) * 5)
    for k in range(1, 9):
        e = Image.Exif()
        e[0x0112] = k
        tiny.save(OUT / f"orientation{k}.png", exif=e.tobytes())


def write_decoded():
    stems = ["photo.jpg", "progressive.jpg", "grayscale.jpg", "cmyk.jpg", "exif6.jpg", "rgb.png", "rgba.png",
             "gray.png", "gray_alpha.png", "gray4.png", "palette.png", "rgb16.png"]
    for name in stems:
        im = Image.open(OUT / name)
        stem = name.split(".")[0]
        save_npy(f"{stem}_rgb", np.asarray(im.convert("RGB")), np.uint8)
        save_npy(f"{stem}_l", np.asarray(im.convert("L"))[..., None], np.uint8)
    save_npy("exif6_upright", np.asarray(ImageOps.exif_transpose(Image.open(OUT / "exif6.jpg")).convert("RGB")),
             np.uint8)
    for k in range(1, 9):
        upright = ImageOps.exif_transpose(Image.open(OUT / f"orientation{k}.png")).convert("RGB")
        save_npy(f"orientation{k}_upright", np.asarray(upright), np.uint8)
    g16 = np.asarray(Image.open(OUT / "gray16.png"))
    assert g16.dtype == np.uint16 or g16.max() > 255, "Pillow no longer opens 16-bit gray as 16-bit"
    save_npy("gray16_highbyte", (g16.astype(np.uint32) >> 8)[..., None], np.uint8)


def write_keras():
    # (12, 60) and rgba's (17, 50) shrink the height much more than the width: Pillow 13 then
    # resamples vertically first (python-pillow/Pillow#9549), which shows in the last bit.
    cases = [("photo.jpg", (20, 28)), ("photo.jpg", (72, 90)), ("photo.jpg", (31, 45)), ("photo.jpg", (12, 60)),
             ("progressive.jpg", (24, 24)), ("rgba.png", (17, 50))]
    for name, (h, w) in cases:
        stem = name.split(".")[0]
        for interp in ("nearest", "bilinear"):
            a = img_to_array(load_img(OUT / name, target_size=(h, w), interpolation=interp))
            save_keras(f"keras_{stem}_{h}x{w}_{interp}", a)
    for interp in ("nearest", "bilinear"):
        a = img_to_array(load_img(OUT / "photo.jpg", color_mode="grayscale", target_size=(20, 28),
                                  interpolation=interp))
        save_keras(f"keras_photo_gray_20x28_{interp}", a)


def write_torchvision():
    # Resize's output size and CenterCrop's offsets (Python's round, half to even) both matter.
    cases = [("photo.jpg", 32, 28), ("photo.jpg", 31, 28), ("progressive.jpg", 29, 24), ("rgb.png", 36, 33)]
    for name, resize, crop in cases:
        stem = name.split(".")[0]
        im = Image.open(OUT / name).convert("RGB")
        out = transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(crop)])(im)
        save_npy(f"torch_{stem}_resize{resize}_crop{crop}", np.asarray(out), np.uint8)
    im = Image.open(OUT / "photo.jpg").convert("RGB")
    full = transforms.Compose([
        transforms.Resize(31), transforms.CenterCrop(28), transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])(im)
    save_npy("torch_photo_resize31_crop28_normalized", full.permute(1, 2, 0).numpy(), np.float32)


def write_preprocessing():
    x = np.load(OUT / "keras_photo_20x28_bilinear.npy").astype(np.float32)[None]
    save_npy("preprocess_input", x, np.float32)
    for mode in ("caffe", "torch", "tf"):
        save_npy(f"preprocess_{mode}", imagenet_utils.preprocess_input(x.copy(), mode=mode), np.float32)


def write_folder():
    root = OUT / "folder"
    files = ["cat/b.png", "cat/a.jpg", "cat/A.png", "cat/10.png", "cat/9.jpeg", "cat/x.JPG", "cat/sub/z.png",
             "cat/sub/deeper/w.png", "cat/sub dir/y.png", "Dog/one.png", "Dog/two.png", "ant/1.png", "ant/2.png",
             "ant/3.png"]
    for i, rel in enumerate(files):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tile = Image.fromarray(pattern(10, 12)).transpose(Image.Transpose.ROTATE_180 if i % 2 else Image.Transpose.FLIP_LEFT_RIGHT)
        tile.save(path, format="JPEG" if rel.lower().endswith(("jpg", "jpeg")) else "PNG")
    (root / "cat" / "notes.txt").write_text("not an image\n")
    (root / "README.txt").write_text("a file beside the class folders is not a class\n")
    data = (OUT / "photo.jpg").read_bytes()
    (root / "Dog" / "broken.jpg").write_bytes(data[: len(data) // 2])
    (root / "Dog" / "text.png").write_text("not a PNG\n")
    folder = datasets.ImageFolder(str(root))
    lines = [f"{Path(p).relative_to(root).as_posix()}\t{label}" for p, label in folder.samples]
    (OUT / "folder_samples.txt").write_text("\n".join(lines) + "\n")
    (OUT / "folder_classes.txt").write_text("\n".join(folder.classes) + "\n")


def write_tensors():
    x = rng.standard_normal((6, 4, 5, 1)).astype(np.float32)
    y = np.array([0, 2, 1, 2, 0, 2], dtype=np.int64)
    with h5py.File(OUT / "tensors.h5", "w") as f:
        f.create_dataset("x", data=x)
        f.create_dataset("y", data=y)
        f.attrs["class_names"] = ["zero", "one", "two"]
    np.save(OUT / "tensors_x.npy", x)
    np.save(OUT / "tensors_y.npy", y.astype(np.uint8))


def main():
    # Pillow warns that a palette's tRNS bytes would be better kept as RGBA; dropping them is the point here.
    warnings.filterwarnings("ignore", message="Palette images with Transparency")
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.glob("*"):
        shutil.rmtree(f) if f.is_dir() else f.unlink()
    torch.manual_seed(0)
    write_images()
    write_decoded()
    write_keras()
    write_torchvision()
    write_preprocessing()
    write_folder()
    write_tensors()
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {len([f for f in OUT.rglob('*') if f.is_file()])} files, {total / 1024:.0f} KB, to {OUT}")


if __name__ == "__main__":
    main()
