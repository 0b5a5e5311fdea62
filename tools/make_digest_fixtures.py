#!/usr/bin/env python3
"""Writes Tests/Fixtures/pretrained/digests.json: hashlib's md5, sha1 and sha256 of test messages, which
Tests/ZooTests/DigestTests.swift checks ConvZoo's own MD5, SHA-1 and SHA-256 against.

Message of length n: bytes (31 * i + 7) % 251 for i in 0..<n. The lengths straddle the 64-byte
block and the 55/56-byte padding boundaries, and reach past several blocks.

Run from the repository root:  python3 tools/make_digest_fixtures.py
"""
import hashlib
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LENGTHS = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 100003]


def message(n):
    return bytes((31 * i + 7) % 251 for i in range(n))


def main():
    cases = [{"length": n, "md5": hashlib.md5(message(n)).hexdigest(), "sha1": hashlib.sha1(message(n)).hexdigest(), "sha256": hashlib.sha256(message(n)).hexdigest()}
             for n in LENGTHS]
    out = os.path.join(ROOT, "Tests", "Fixtures", "pretrained", "digests.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"pattern": "(31 * i + 7) % 251", "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {out} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
