#!/usr/bin/env python3
"""Writes one Qdrant search body per query vector, one per line.

Usage: make_bodies.py QUERIES.fvecs LIMIT EF OUT [legacy|query]
legacy: POST /points/search bodies; query: POST /points/query bodies.
"""
import json
import sys

import numpy as np


def main():
    path, limit, ef, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        sys.argv[4]
    kind = sys.argv[5] if len(sys.argv) > 5 else "legacy"
    raw = np.fromfile(path, dtype=np.int32)
    dim = int(raw[0])
    q = raw.reshape(-1, dim + 1)[:, 1:].view(np.float32)
    with open(out, "w") as f:
        for v in q:
            vec = [float(x) for x in v]
            body = ({"vector": vec, "limit": limit, "params": {"hnsw_ef": ef}}
                    if kind == "legacy" else
                    {"query": vec, "limit": limit, "params": {"hnsw_ef": ef}})
            f.write(json.dumps(body, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
