#!/usr/bin/python3
"""REST integration test of multivectors against the real `quiver serve`.

Usage: server_multivec.py QUIVER_BINARY  (run under
tests/schema/with_response_log.sh, which validates every response logged
to $QUIVER_RESPONSE_LOG against Qdrant's OpenAPI schema).

Starts the server on a free loopback port with a scratch storage, creates
a collection with a dense vector and a MaxSim multivector, upserts random
matrices of varying row counts, and checks:
  - collection info echoes multivector_config;
  - retrieve and scroll return the matrices as stored;
  - query with a matrix (and `using`), with a filter, with one vector
    (a one-row matrix) and the legacy search with one vector all equal a
    MaxSim reference computed here with numpy, independently of the
    library (exact search, so the order is the reference's);
  - a dense prefetch re-scored by the multivector (ColBERT re-ranking)
    equals the reference over the prefetched candidates;
  - Qdrant's errors for an empty matrix, ragged rows, a wrong dimension,
    a plain vector for a multivector and a matrix for a dense vector, and
    an unknown comparator;
  - the data survives kill -9 and a restart, and a collection snapshot
    (create, download, upload over changed data) restores the matrices.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np

QUIVER = sys.argv[1]
LOG = os.environ.get("QUIVER_RESPONSE_LOG")
DIM = 8


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, storage):
        self.storage = storage
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [QUIVER, "serve", "--port", str(self.port), "--storage",
             self.storage], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120  # a safety net, not a timing
        while True:
            try:
                urllib.request.urlopen(self.url + "/readyz", timeout=5)
                return
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None:
                    raise SystemExit("server exited: " +
                                     self.proc.stderr.read().decode())
                if time.time() > deadline:
                    raise SystemExit("server not ready")
                time.sleep(0.05)  # polling interval

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait()


def call(srv, method, path, body=None, raw=None):
    data = raw if raw is not None else (
        None if body is None else json.dumps(body).encode())
    ctype = "application/octet-stream" if raw is not None else "application/json"
    req = urllib.request.Request(srv.url + path, data=data, method=method,
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    if raw is None and method == "GET" and "/snapshots/" in path:
        return status, text  # the archive itself
    reply = json.loads(text.decode())
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps({"method": method, "path": path,
                                "status": status, "body": reply}) + "\n")
    return status, reply


def ok(srv, method, path, body=None, raw=None):
    status, reply = call(srv, method, path, body, raw)
    assert status == 200, (method, path, status, reply)
    return reply["result"]


def error(srv, method, path, body, status, text):
    got, reply = call(srv, method, path, body)
    msg = reply.get("status", {}).get("error", "")
    assert got == status and text in msg, (path, got, msg, text)


# ---- the reference --------------------------------------------------------

def maxsim(q, d, metric):
    q = np.asarray(q, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    if metric == "Cosine":
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        d = d / np.linalg.norm(d, axis=1, keepdims=True)
        sim = q @ d.T
    elif metric == "Dot":
        sim = q @ d.T
    elif metric == "Euclid":
        sim = -((q[:, None, :] - d[None, :, :]) ** 2).sum(axis=2)
    else:
        sim = -np.abs(q[:, None, :] - d[None, :, :]).sum(axis=2)
    return float(sim.max(axis=1).sum())


def reference(points, q, metric, keep=lambda p: True, limit=10):
    scored = [(maxsim(q, p["m"], metric), p["id"]) for p in points if keep(p)]
    scored.sort(key=lambda s: (-s[0], s[1]))
    return scored[:limit]


def check_hits(hits, ref):
    assert len(hits) == len(ref), (hits, ref)
    for h, (score, pid) in zip(hits, ref):
        assert abs(h["score"] - score) <= 1e-3 * (1 + abs(score)), (h, score)
        if h["id"] != pid:  # only a near tie may swap
            others = [s for s, i in ref if i == h["id"]]
            assert others and abs(others[0] - score) <= 2e-3 * (1 + abs(score)), (h, pid)


def main():
    rng = random.Random(7)
    tmp = tempfile.mkdtemp(prefix="quiver-multivec-")
    srv = Server(os.path.join(tmp, "s"))
    try:
        srv.start()
        metric = "Cosine"
        ok(srv, "PUT", "/collections/mv", {
            "vectors": {
                "dense": {"size": 4, "distance": "Dot"},
                "colbert": {"size": DIM, "distance": metric,
                            "multivector_config": {"comparator": "max_sim"}},
            }})
        info = ok(srv, "GET", "/collections/mv")
        cfg = info["config"]["params"]["vectors"]["colbert"]
        assert cfg["multivector_config"] == {"comparator": "max_sim"}, cfg
        assert "multivector_config" not in info["config"]["params"]["vectors"]["dense"]

        points = []
        for i in range(120):
            rows = rng.randint(1, 5)
            m = [[rng.gauss(0, 1) for _ in range(DIM)] for _ in range(rows)]
            points.append({"id": i, "m": m, "g": i % 3})
        for start in range(0, len(points), 40):
            ok(srv, "PUT", "/collections/mv/points?wait=true", {"points": [
                {"id": p["id"],
                 "vector": {"colbert": p["m"], "dense": [1, 0, 0, p["id"]]},
                 "payload": {"g": p["g"]}}
                for p in points[start:start + 40]]})
        ok(srv, "PUT", "/collections/mv/index?wait=true",
           {"field_name": "g", "field_schema": "integer"})

        # Retrieve and scroll give the matrices back (rows normalised:
        # cosine, as Qdrant stores them).
        got = ok(srv, "POST", "/collections/mv/points",
                 {"ids": [5], "with_vector": ["colbert"]})
        back = np.asarray(got[0]["vector"]["colbert"])
        want = np.asarray(points[5]["m"])
        want = want / np.linalg.norm(want, axis=1, keepdims=True)
        assert back.shape == want.shape and np.allclose(back, want, atol=1e-6)
        page = ok(srv, "POST", "/collections/mv/points/scroll",
                  {"limit": 3, "with_vector": True})
        assert len(page["points"][0]["vector"]["colbert"]) == len(points[0]["m"])

        for t in range(10):
            q = [[rng.gauss(0, 1) for _ in range(DIM)]
                 for _ in range(rng.randint(1, 4))]
            res = ok(srv, "POST", "/collections/mv/points/query", {
                "query": q, "using": "colbert", "limit": 10,
                "params": {"exact": True}})
            check_hits(res["points"], reference(points, q, metric))
            res = ok(srv, "POST", "/collections/mv/points/query", {
                "query": {"nearest": q}, "using": "colbert", "limit": 5,
                "params": {"exact": True},
                "filter": {"must": [{"key": "g", "match": {"value": 1}}]}})
            check_hits(res["points"], reference(
                points, q, metric, lambda p: p["g"] == 1, 5))
            # The graph walk finds what the scan finds, mostly.
            res = ok(srv, "POST", "/collections/mv/points/query", {
                "query": q, "using": "colbert", "limit": 10})
            assert len(res["points"]) == 10
        one = [rng.gauss(0, 1) for _ in range(DIM)]
        res = ok(srv, "POST", "/collections/mv/points/query", {
            "query": one, "using": "colbert", "params": {"exact": True}})
        check_hits(res["points"], reference(points, [one], metric))
        res = ok(srv, "POST", "/collections/mv/points/search", {
            "vector": {"name": "colbert", "vector": one}, "limit": 10,
            "params": {"exact": True}})
        check_hits(res, reference(points, [one], metric))
        # ColBERT re-ranking: the dense vector prefetches candidates (the
        # 20 highest ids: dense = [1, 0, 0, id] under dot), the matrix
        # re-scores them by MaxSim.
        q = [[rng.gauss(0, 1) for _ in range(DIM)] for _ in range(3)]
        res = ok(srv, "POST", "/collections/mv/points/query", {
            "prefetch": {"query": [0, 0, 0, 1], "using": "dense", "limit": 20},
            "query": q, "using": "colbert", "limit": 5})
        check_hits(res["points"], reference(
            points, q, metric, lambda p: p["id"] >= 100, 5))
        # The dense vector still searches as before.
        res = ok(srv, "POST", "/collections/mv/points/query",
                 {"query": [0, 0, 0, 1], "using": "dense", "limit": 1})
        assert res["points"][0]["id"] == 119

        # Qdrant's errors.
        up = "/collections/mv/points?wait=true"
        # [] is an empty dense vector to Qdrant (its Vector is an untagged
        # enum trying the dense form first): a dimension error.
        error(srv, "PUT", up, {"points": [{"id": 900, "vector": {"colbert": []}}]},
              400, f"Vector dimension error: expected dim: {DIM}, got 0")
        error(srv, "PUT", up, {"points": [{"id": 900, "vector": {
            "colbert": [[1] * DIM, [1] * (DIM - 1)]}}]},
            422, "all vectors must have the same dimension")
        # Qdrant's validator names the matrix of a named vector "?.data".
        error(srv, "PUT", up, {"points": [{"id": 900, "vector": {
            "colbert": [[1] * DIM, []]}}]},
            422, "[points[0].vector.?.data: all vectors must be non-empty]")
        error(srv, "PUT", up, {"points": [{"id": 900, "vector": {
            "colbert": [[1] * (DIM + 1)]}}]},
            400, f"Vector dimension error: expected dim: {DIM}, got {DIM + 1}")
        # A plain vector for a multivector is a matrix of one row (Qdrant's
        # tests/openapi/test_multi_vector.py, test_upsert_legacy_api).
        ok(srv, "PUT", up, {"points": [{"id": 900, "vector": {
            "colbert": [1] * DIM}}]})
        got = ok(srv, "GET", "/collections/mv/points/900")
        rows = got["vector"]["colbert"]  # one row, normalised (cosine)
        assert len(rows) == 1 and all(
            abs(x - DIM ** -0.5) < 1e-6 for x in rows[0]), got
        ok(srv, "POST", "/collections/mv/points/delete?wait=true",
           {"points": [900]})
        error(srv, "PUT", up, {"points": [{"id": 900, "vector": {
            "colbert": [1] * (DIM - 1)}}]},
            400, f"Vector dimension error: expected dim: {DIM}, got {DIM - 1}")
        error(srv, "PUT", up, {"points": [{"id": 900, "vector": {
            "dense": [[1, 2, 3, 4]]}}]},
            400, "Conversion between multi and regular vectors failed")
        error(srv, "POST", "/collections/mv/points/query",
              {"query": [[1] * (DIM - 1)], "using": "colbert"},
              400, "Vector dimension error")
        error(srv, "POST", "/collections/mv/points/query",
              {"query": [[1, 2, 3, 4]], "using": "dense"},
              400, "Conversion between multi and regular vectors failed")
        error(srv, "PUT", "/collections/bad", {"vectors": {
            "size": 4, "distance": "Dot",
            "multivector_config": {"comparator": "min_sim"}}},
            400, "expected `max_sim`")
        count = ok(srv, "POST", "/collections/mv/points/count", {"exact": True})
        assert count["count"] == len(points), count

        # update_vectors replaces a matrix; kill -9 and a restart keep all.
        new = [[0.5] * DIM, [-0.5] * DIM]
        ok(srv, "PUT", "/collections/mv/points/vectors?wait=true",
           {"points": [{"id": 7, "vector": {"colbert": new}}]})
        points[7]["m"] = new
        srv.kill()
        srv.start()
        q = [[rng.gauss(0, 1) for _ in range(DIM)] for _ in range(3)]
        res = ok(srv, "POST", "/collections/mv/points/query", {
            "query": q, "using": "colbert", "limit": 10,
            "params": {"exact": True}})
        check_hits(res["points"], reference(points, q, metric))
        got = ok(srv, "GET", "/collections/mv/points/7")
        assert len(got["vector"]["colbert"]) == 2

        # A collection snapshot, uploaded over changed data, brings the
        # matrices back.
        snap = ok(srv, "POST", "/collections/mv/snapshots", {})
        status, archive = call(srv, "GET",
                               "/collections/mv/snapshots/" + snap["name"])
        assert status == 200 and len(archive) == snap["size"], status
        ok(srv, "POST", "/collections/mv/points/delete?wait=true",
           {"points": [0, 1, 2]})
        ok(srv, "PUT", "/collections/mv/points/vectors?wait=true",
           {"points": [{"id": 7, "vector": {"colbert": [[1] * DIM]}}]})
        assert ok(srv, "POST", "/collections/mv/snapshots/upload",
                  raw=archive) is True
        count = ok(srv, "POST", "/collections/mv/points/count", {"exact": True})
        assert count["count"] == len(points), count
        res = ok(srv, "POST", "/collections/mv/points/query", {
            "query": q, "using": "colbert", "limit": 10,
            "params": {"exact": True}})
        check_hits(res["points"], reference(points, q, metric))
        srv.kill(signal.SIGTERM)
        print("server_multivec: ok")
    finally:
        if srv.proc and srv.proc.poll() is None:
            srv.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
