#!/usr/bin/env python3
"""Loads an .fvecs file into a Quiver (or Qdrant) collection over HTTP.

Usage: load_points.py URL COLLECTION BASE.fvecs DISTANCE [BATCH]
Creates the collection (size from the file, hnsw m 16 / ef_construct 100)
and upserts the vectors with ids 0..n-1 in batches with wait=true, then
prints the ingest rate.  Only the standard library and numpy are used.
"""
import json
import sys
import time
import urllib.request

import numpy as np


def call(url, method, body):
    req = urllib.request.Request(url, method=method,
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        out = json.loads(r.read())
    if out.get("status") != "ok":
        sys.exit(f"{method} {url}: {out}")
    return out


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    dim = int(raw[0])
    return raw.reshape(-1, dim + 1)[:, 1:].view(np.float32)


def main():
    url, name, path, distance = sys.argv[1:5]
    batch = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    x = read_fvecs(path)
    base = f"{url}/collections/{name}"
    urllib.request.urlopen(urllib.request.Request(base, method="DELETE"))
    call(base, "PUT", {"vectors": {"size": x.shape[1], "distance": distance},
                       "hnsw_config": {"m": 16, "ef_construct": 100}})
    t0 = time.time()
    for lo in range(0, len(x), batch):
        hi = min(lo + batch, len(x))
        call(base + "/points?wait=true", "PUT",
             {"batch": {"ids": list(range(lo, hi)),
                        "vectors": x[lo:hi].tolist()}})
    dt = time.time() - t0
    print(f"loaded {len(x)} x {x.shape[1]} in {dt:.1f} s "
          f"({len(x) / dt:.0f} points/s)")


if __name__ == "__main__":
    main()
