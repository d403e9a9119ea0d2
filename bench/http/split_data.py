#!/usr/bin/env python3
"""Splits WORK/all.fvecs at random (seed 1) into WORK/base.fvecs (N rows)
and WORK/queries.fvecs (the rest), for the server benchmarks
(bench/http_load.sh, bench/grpc_load.sh).

Usage: split_data.py WORK N
"""
import sys

import numpy as np


def main():
    work, n = sys.argv[1], int(sys.argv[2])
    raw = np.fromfile(f"{work}/all.fvecs", dtype=np.int32)
    d = int(raw[0])
    rows = raw.reshape(-1, d + 1)
    perm = np.random.default_rng(1).permutation(len(rows))
    rows[perm[:n]].tofile(f"{work}/base.fvecs")
    rows[perm[n:]].tofile(f"{work}/queries.fvecs")


if __name__ == "__main__":
    main()
