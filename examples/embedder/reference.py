#!/usr/bin/python3
"""Reference implementation of the sample embedder (embedder.c), written from the algorithm, not the C.

    normalise: ASCII A-Z lowercased; ASCII letters/digits kept; any other ASCII byte is a separator and a run
               of separators becomes one space; bytes >= 0x80 (UTF-8 of non-ASCII text) kept as they are
    pad:       " " + normalised + " "
    trigrams:  every 3-byte window, hashed FNV-1a 32-bit; bucket = h % 256; sign = +1 if bit 8 of h is set,
               else -1; summed per bucket
    output:    L2-normalised (all zeros stay zeros), JSON array of 256 numbers formatted "%.6g"

Usage:
    reference.py < text                 prints the JSON array for stdin (bytes, as `embedder stdio` reads them)
    reference.py --json-lines < lines   each line is a JSON string; prints one JSON array per line
"""

import json
import math
import sys

DIM = 256


def normalise(data: bytes) -> bytes:
    out = bytearray(b" ")
    separated = True
    for c in data:
        if 0x41 <= c <= 0x5A:
            c += 0x20
        token = c >= 0x80 or 0x30 <= c <= 0x39 or 0x61 <= c <= 0x7A
        if not token:
            if not separated:
                out.append(0x20)
            separated = True
            continue
        out.append(c)
        separated = False
    if not separated:
        out.append(0x20)
    return bytes(out)


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def embed(data: bytes) -> list[float]:
    padded = normalise(data)
    counts = [0] * DIM
    for i in range(len(padded) - 2):
        h = fnv1a32(padded[i : i + 3])
        counts[h % DIM] += 1 if (h >> 8) & 1 else -1
    norm = math.sqrt(sum(c * c for c in counts))
    return [0.0 if norm == 0 else c / norm for c in counts]


def to_json(vector: list[float]) -> str:
    return "[" + ",".join("%.6g" % v for v in vector) + "]"


def main() -> int:
    if sys.argv[1:] == ["--json-lines"]:
        for line in sys.stdin.buffer:
            if line.strip():
                text = json.loads(line)
                sys.stdout.write(to_json(embed(text.encode("utf-8"))) + "\n")
        return 0
    if sys.argv[1:]:
        sys.stderr.write(__doc__)
        return 64
    sys.stdout.write(to_json(embed(sys.stdin.buffer.read())) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
