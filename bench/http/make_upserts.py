#!/usr/bin/env python3
"""Writes Qdrant upsert bodies for the writers of bench/http_load.sh.

Usage: make_upserts.py DIM N_EXISTING BATCH N_BODIES OUT [seed]
One PUT /points body per line, each a batch of BATCH points of dimension
DIM with random vectors and ids drawn from 0..N_EXISTING-1: every upsert
overwrites existing points, so the collection keeps its size however long
the writers run and every round searches the same amount of data.
"""
import json
import sys

import numpy as np


def main():
    dim, n, batch, count, out = (int(sys.argv[1]), int(sys.argv[2]),
                                 int(sys.argv[3]), int(sys.argv[4]),
                                 sys.argv[5])
    seed = int(sys.argv[6]) if len(sys.argv) > 6 else 11
    rng = np.random.default_rng(seed)
    with open(out, "w") as f:
        for _ in range(count):
            ids = rng.choice(n, size=min(batch, n), replace=False)
            vecs = rng.standard_normal((len(ids), dim)).astype(np.float32)
            body = {"batch": {"ids": [int(i) for i in ids],
                              "vectors": [[round(float(x), 5) for x in v]
                                          for v in vecs]}}
            f.write(json.dumps(body, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
