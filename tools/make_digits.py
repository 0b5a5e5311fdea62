#!/usr/bin/env python3
"""Writes the bundled digits dataset: scikit-learn's copy of the UCI 8x8 handwritten digits.

Output: datasets/digits/images.npy (1797, 8, 8) uint8 with values 0..16, and labels.npy (1797,) uint8.
Requires scikit-learn (the data ships inside the package; nothing is downloaded).
"""
import os
import numpy as np
from sklearn.datasets import load_digits

out = os.path.join(os.path.dirname(__file__), "..", "datasets", "digits")
os.makedirs(out, exist_ok=True)
d = load_digits()
np.save(os.path.join(out, "images.npy"), d.images.astype(np.uint8))
np.save(os.path.join(out, "labels.npy"), d.target.astype(np.uint8))
print("wrote", d.images.shape, "images to", os.path.abspath(out))
