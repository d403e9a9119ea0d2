#!/usr/bin/env python3
"""Loads a hybrid corpus into a Quiver (or Qdrant) server and writes the
query bodies of bench/hybrid_load.sh.

Usage: hybrid_data.py URL N DIM NQ K EF OUTDIR [SEED]

The collection `hybrid` gets a dense vector `dense` (DIM, Cosine, HNSW m 16,
ef_construct 100) and a sparse vector `text` with the idf modifier.  Each
document has a random dense vector and a BM25-style sparse vector: about
100 words drawn from a Zipf(1.0) distribution over a 50,000-word
vocabulary, each word's weight its BM25 term-frequency part (k1 1.2,
b 0.75); IDF comes from the server's modifier, as with Qdrant's BM25.
Queries are a random dense vector and 2-6 Zipf-drawn words of weight 1.

Writes OUTDIR/dense.jsonl, sparse.jsonl and hybrid.jsonl (one
`points/query` body per line: dense alone, sparse alone, and both as
prefetches of 5*K each fused by RRF), then checks one body of each kind
returns K hits.  Only the standard library and numpy are used.
"""
import json
import sys
import time
import urllib.request

import numpy as np

VOCAB, DOC_LEN, K1, B = 50000, 100, 1.2, 0.75


def call(url, method, body):
    req = urllib.request.Request(url, method=method,
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        out = json.loads(r.read())
    if out.get("status") != "ok":
        sys.exit(f"{method} {url}: {out}")
    return out


def zipf_words(rng, cdf, n):
    return np.searchsorted(cdf, rng.random(n))


def doc_sparse(rng, cdf, avg_len):
    n = max(5, int(rng.normal(DOC_LEN, DOC_LEN / 4)))
    words, tf = np.unique(zipf_words(rng, cdf, n), return_counts=True)
    w = tf * (K1 + 1) / (tf + K1 * (1 - B + B * n / avg_len))
    return {"indices": words.tolist(), "values": w.astype(np.float32).tolist()}


def main():
    url, n, dim, nq, k, ef, out = sys.argv[1:8]
    n, dim, nq, k, ef = int(n), int(dim), int(nq), int(k), int(ef)
    rng = np.random.default_rng(int(sys.argv[8]) if len(sys.argv) > 8 else 7)
    p = 1.0 / np.arange(1, VOCAB + 1)
    cdf = np.cumsum(p / p.sum())
    base = f"{url}/collections/hybrid"
    urllib.request.urlopen(urllib.request.Request(base, method="DELETE"))
    call(base, "PUT", {
        "vectors": {"dense": {"size": dim, "distance": "Cosine"}},
        "sparse_vectors": {"text": {"modifier": "idf"}},
        "hnsw_config": {"m": 16, "ef_construct": 100}})
    t0, postings = time.time(), 0
    for lo in range(0, n, 500):
        hi = min(lo + 500, n)
        dense = rng.standard_normal((hi - lo, dim), dtype=np.float32)
        pts = []
        for i in range(lo, hi):
            sv = doc_sparse(rng, cdf, DOC_LEN)
            postings += len(sv["indices"])
            pts.append({"id": i, "vector": {"dense": dense[i - lo].tolist(),
                                            "text": sv}})
        call(base + "/points?wait=true", "PUT", {"points": pts})
    dt = time.time() - t0
    print(f"loaded {n} documents ({dim}-d dense, {postings} postings) "
          f"in {dt:.1f} s ({n / dt:.0f} points/s)")
    files = {m: open(f"{out}/{m}.jsonl", "w")
             for m in ("dense", "sparse", "hybrid")}
    for _ in range(nq):
        dq = rng.standard_normal(dim, dtype=np.float32).tolist()
        words = np.unique(zipf_words(rng, cdf, int(rng.integers(2, 7))))
        sq = {"indices": words.tolist(), "values": [1.0] * len(words)}
        dense = {"query": dq, "using": "dense", "limit": k,
                 "params": {"hnsw_ef": ef}}
        sparse = {"query": sq, "using": "text", "limit": k}
        hybrid = {"prefetch": [dict(dense, limit=5 * k),
                               dict(sparse, limit=5 * k)],
                  "query": {"fusion": "rrf"}, "limit": k}
        for m, body in (("dense", dense), ("sparse", sparse),
                        ("hybrid", hybrid)):
            files[m].write(json.dumps(body) + "\n")
    for m, f in files.items():
        f.close()
        with open(f"{out}/{m}.jsonl") as g:
            hits = call(base + "/points/query", "POST",
                        json.loads(g.readline()))["result"]["points"]
        if len(hits) != k:
            sys.exit(f"hybrid_data: a {m} query returned {len(hits)} hits")


if __name__ == "__main__":
    main()
