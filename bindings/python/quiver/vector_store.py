"""A drop-in for the toy in-memory vector store of RAG frameworks.

VectorStore has the operations of the Rust crate's
quiver::vector_store::QuiverVectorStore (the shape of MagicAF's
InMemoryVectorStore): VectorStore(), VectorStore.load(path), save(path),
ensure_collection, index, upsert, search, delete_by_entity, total_points,
collection_names.  Collections are cosine; points added by index() get random
UUIDs; delete_by_entity removes every point whose payload's "entity_id" is
the given id (as text).

save(dir) writes the same directory as the Rust crate, so either language
loads what the other saved: one snapshot per collection, named
<generation>-<i>.qvs, then MANIFEST ("quiver-vector-store 1", then one
"<file>\\t<name>" line per collection), replaced atomically, then the files of
older generations are removed.  A crash mid-save leaves the previous save
whole.  load(dir) maps the snapshots instead of reading them.
"""

import os
import re
import threading
import uuid
from typing import Any, Dict, List, NamedTuple, Sequence

import numpy as np

from ._lib import CorruptError, ExistsError, FormatError, InvalidError, \
    IOFailure, NotFoundError
from . import _ffi
from .core import Collection, Filter, FilterLike, IdLike, replace_file

MANIFEST = "MANIFEST"
MANIFEST_HEADER = "quiver-vector-store 1"
_GEN_FILE = re.compile(r"^(\d+)-(\d+)\.qvs$")


class SearchResult(NamedTuple):
    id: str
    score: float
    payload: Dict[str, Any]


class VectorStore:
    """Named cosine collections in memory, saved to and loaded from a
    directory.  Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._collections: Dict[str, Collection] = {}

    @classmethod
    def load(cls, path: str) -> "VectorStore":
        manifest = os.path.join(path, MANIFEST)
        try:
            with open(manifest, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise IOFailure("%s: %s" % (manifest, e.strerror)) from None
        if not lines or lines[0] != MANIFEST_HEADER:
            raise FormatError("%s: not a Quiver vector store manifest" %
                              manifest)
        store = cls()
        for line in lines[1:]:
            file, sep, name = line.partition("\t")
            if not sep or "/" in file or file.startswith("."):
                raise CorruptError("%s: malformed line %r" % (manifest, line))
            store._collections[name] = Collection.open_snapshot(
                os.path.join(path, file))
        return store

    def save(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        gens = [int(m.group(1)) for m in map(_GEN_FILE.match, os.listdir(path))
                if m]
        gen = max(gens, default=0) + 1
        with self._lock:
            items = sorted(self._collections.items())
        lines = [MANIFEST_HEADER]
        for i, (name, coll) in enumerate(items):
            file = "%d-%d.qvs" % (gen, i)
            coll.save_snapshot(os.path.join(path, file))
            lines.append("%s\t%s" % (file, name))
        replace_file(os.path.join(path, MANIFEST),
                     ("\n".join(lines) + "\n").encode())
        for f in os.listdir(path):
            m = _GEN_FILE.match(f)
            if m and int(m.group(1)) != gen:
                try:
                    os.remove(os.path.join(path, f))
                except OSError:
                    pass  # only disk space; the next save tries again

    def ensure_collection(self, collection: str, vector_size: int) -> None:
        if not collection or any(c in collection for c in "\t\n\r\0"):
            raise InvalidError("bad collection name %r" % collection)
        with self._lock:
            have = self._collections.get(collection)
            if have is not None:
                if have.dim != vector_size:
                    raise ExistsError(
                        "collection %s exists with vector size %d, not %d" %
                        (collection, have.dim, vector_size))
                return
            self._collections[collection] = Collection(vector_size, "cosine")

    def collection(self, name: str) -> Collection:
        """The collection itself, for everything else (payload indexes,
        batch search, scrolling)."""
        with self._lock:
            c = self._collections.get(name)
        if c is None:
            raise NotFoundError("collection %s does not exist" % name)
        return c

    def index(self, collection: str, embeddings, payloads: Sequence[Any]
              ) -> List[str]:
        """Adds one point per embedding with the payload at the same
        position, under new random UUIDs (returned).  All or nothing."""
        ids = [uuid.uuid4() for _ in range(len(payloads))]
        self.upsert(collection, ids, embeddings, payloads)
        return [str(i) for i in ids]

    def upsert(self, collection: str, ids: Sequence[IdLike], embeddings,
               payloads: Sequence[Any]) -> None:
        c = self.collection(collection)
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != len(payloads):
            raise InvalidError("%d embeddings but %d payloads" %
                               (emb.shape[0] if emb.ndim else 0,
                                len(payloads)))
        c.upsert(ids, emb, payloads)

    def search(self, collection: str, query_vector, limit: int = 10,
               filter: FilterLike = None) -> List[SearchResult]:
        """The `limit` most similar points, best first; `limit` is a maximum:
        0 gives no results, beyond 1,000,000 (QV_MAX_K) that many."""
        c = self.collection(collection)
        f = Filter.of(filter)
        if limit <= 0:
            return []
        k = min(limit, _ffi.QV_MAX_K)
        return [SearchResult(str(h.id), h.score, c.payload(h.id))
                for h in c.search(query_vector, k, f)]

    def delete_by_entity(self, collection: str, entity_id: Any) -> int:
        c = self.collection(collection)
        return c.delete_filter({"must": [{"key": "entity_id", "match": {
            "value": str(entity_id)}}]})

    def total_points(self) -> int:
        with self._lock:
            colls = list(self._collections.values())
        return sum(c.count() for c in colls)

    def collection_names(self) -> List[str]:
        with self._lock:
            return sorted(self._collections)
