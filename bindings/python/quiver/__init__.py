"""Quiver for Python: ctypes bindings to libquiver, an in-process vector
search engine with Qdrant's ids, scores, payloads and filters.

    import numpy as np, quiver
    c = quiver.Collection(4, "cosine")
    c.upsert([1, 2], np.eye(2, 4, dtype=np.float32),
             payloads=[{"t": "a"}, {"t": "b"}])
    c.search([1, 0, 0, 0], k=1, filter={"must": [
        {"key": "t", "match": {"value": "a"}}]})

See core.py (Collection, Store, Filter, ids, numpy in and out) and
vector_store.py (the toy in-memory store's interface).  The library is found
through QUIVER_LIB / QUIVER_LIB_DIR or the source tree's build/ (_lib.py).
"""

from ._lib import (CorruptError, DimError, ExistsError, FormatError,
                   InternalError, InvalidError, IOFailure, NoMemError,
                   NonFiniteError, NotFoundError, NullError, QuiverError,
                   RangeError)
from .core import (Collection, Filter, Hit, PointId, SearchResults, Store,
                   describe_snapshot, verify_snapshot)
from .vector_store import SearchResult, VectorStore

__all__ = [
    "Collection", "Store", "Filter", "Hit", "PointId", "SearchResults",
    "describe_snapshot", "verify_snapshot", "VectorStore", "SearchResult",
    "QuiverError", "NullError", "InvalidError", "RangeError", "DimError",
    "NonFiniteError", "NotFoundError", "ExistsError", "NoMemError",
    "IOFailure", "CorruptError", "FormatError", "InternalError",
]
