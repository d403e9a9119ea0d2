#!/usr/bin/python3
"""A first Quiver script: a collection with payloads, filtered and batch
search with numpy, a snapshot, and the toy-store-shaped VectorStore.

    QUIVER_LIB=build/libquiver.so PYTHONPATH=bindings/python \\
        /usr/bin/python3 bindings/python/example.py
"""

import os
import tempfile

import numpy as np

import quiver

rng = np.random.default_rng(7)
docs = rng.standard_normal((1000, 64)).astype(np.float32)

coll = quiver.Collection(64, "cosine")
coll.upsert(np.arange(1000, dtype=np.uint64), docs,
            payloads=[{"shard": i % 4, "title": "doc %d" % i}
                      for i in range(1000)])
coll.create_index("shard", "integer")

hits = coll.search(docs[42], k=3, filter={"must": [
    {"key": "shard", "match": {"value": 2}}]})
print("filtered:", [(h.id, round(h.score, 3), coll.payload(h.id)["title"])
                    for h in hits])

batch = coll.search_batch(docs[:5], k=1)      # one call, results in numpy
print("batch ids:", batch.ids[:, 0], "scores:", batch.scores[:, 0])

try:
    coll.search(docs[0][:10], k=1)
except quiver.DimError as e:
    print("as expected:", e)

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "docs.qvs")
    coll.save_snapshot(path)
    back = quiver.Collection.open_snapshot(path)
    print("snapshot:", quiver.describe_snapshot(path)["points"], "points,",
          "same answer:", back.search(docs[42], k=1)[0].id)

    store = quiver.VectorStore()
    store.ensure_collection("notes", 3)
    store.index("notes", [[1, 0, 0], [0, 1, 0]],
                [{"entity_id": "a", "text": "hello"},
                 {"entity_id": "b", "text": "world"}])
    store.delete_by_entity("notes", "b")
    store.save(os.path.join(tmp, "store"))
    loaded = quiver.VectorStore.load(os.path.join(tmp, "store"))
    print("vector store:", [(r.payload["text"], round(r.score, 3))
                            for r in loaded.search("notes", [1, 0, 0], 5)])
