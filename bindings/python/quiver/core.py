"""Collections, stores, filters and ids over libquiver (ctypes).

The same surface as the Rust crate: Collection, Store, Filter, PointId,
search and batch search, payloads, snapshots.

Ids (PointId) are Python ints in 0..2^64-1 or UUIDs (uuid.UUID, or their
text in any spelling Qdrant accepts); ids come back as int or uuid.UUID.
Python ints are exact, so ids above 2^53 round-trip exactly.

Vectors are numpy float32 arrays.  Input goes through np.ascontiguousarray,
which copies only when the array is not already C-contiguous float32; the
library reads it in place.  Results are written by the library straight into
numpy arrays allocated (or handed in, `out=`) here: a batch search fills one
structured array laid out as C's qv_hit, and its scores and integer ids are
views of it, not copies.

Payloads are dicts, carried as JSON text: json.dumps in, json.loads out.
The library keeps numbers exactly (integers in i64/u64 range, doubles by
their shortest round-trip text) and Python's json module does too (ints are
unbounded, floats repr exactly), so payload numbers round-trip exactly.

Thread safety follows quiver.h: a Collection may be used from any number of
threads at once, and ctypes releases the GIL during each call.  A Store's
calls may run concurrently too, except closing it: close() waits until
calls in flight return and makes later calls raise, since qv_store_close
must not overlap or precede another call.  A Filter is immutable and
shareable.
"""

import ctypes
import json
import threading
import uuid
from ctypes import POINTER, byref, c_bool, c_char_p, c_float, c_size_t, \
    c_uint, c_uint64, c_void_p
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, \
    Tuple, Union

import numpy as np

from . import _ffi
from ._lib import DimError, InvalidError, NotFoundError, RangeError, \
    check_err, error, lib, read_errmsg

PointId = Union[int, uuid.UUID]
IdLike = Union[int, uuid.UUID, str]
FilterLike = Union["Filter", Dict[str, Any], str, None]

METRICS = {"cosine": _ffi.QV_METRIC_COSINE, "dot": _ffi.QV_METRIC_DOT,
           "euclid": _ffi.QV_METRIC_EUCLID,
           "manhattan": _ffi.QV_METRIC_MANHATTAN}
METRIC_NAMES = {v: k for k, v in METRICS.items()}
INDEX_KINDS = ["keyword", "integer", "float", "bool", "datetime", "uuid",
               "text", "geo"]

# numpy views (native byte order) of C's qv_point_id and qv_hit, from the
# ctypes layout that check_ffi.py compares with quiver.h.
_U = _ffi.qv_point_id.u.offset
ID_DTYPE = np.dtype({"names": ["kind", "num", "uuid"],
                     "formats": ["=u4", "=u8", ("u1", 16)],
                     "offsets": [_ffi.qv_point_id.kind.offset, _U, _U],
                     "itemsize": ctypes.sizeof(_ffi.qv_point_id)})
HIT_DTYPE = np.dtype({"names": ["kind", "num", "uuid", "score"],
                      "formats": ["=u4", "=u8", ("u1", 16), "=f4"],
                      "offsets": [_ffi.qv_point_id.kind.offset, _U, _U,
                                  _ffi.qv_hit.score.offset],
                      "itemsize": ctypes.sizeof(_ffi.qv_hit)})


class Hit(NamedTuple):
    id: PointId
    score: float


# ---- ids ---------------------------------------------------------------------
def _id_struct(pid: IdLike) -> _ffi.qv_point_id:
    out = _ffi.qv_point_id()
    if isinstance(pid, bool):
        raise InvalidError("a point id is an unsigned integer or a UUID, "
                           "not a bool")
    if isinstance(pid, (int, np.integer)):
        n = int(pid)
        if not 0 <= n < 1 << 64:
            raise RangeError("integer id %d is outside 0..2^64-1" % n)
        out.kind = _ffi.QV_ID_NUM
        out.u.num = n
        return out
    if isinstance(pid, uuid.UUID):
        out.kind = _ffi.QV_ID_UUID
        ctypes.memmove(out.u.uuid, pid.bytes, 16)
        return out
    if isinstance(pid, str):
        code = lib.qv_id_parse_uuid(pid.encode(), byref(out))
        if code != _ffi.QV_OK:
            raise error(code, "malformed UUID %r" % pid)
        return out
    raise InvalidError("a point id is an int or a UUID, not %s" %
                       type(pid).__name__)


def _id_value(kind: int, num: int, raw: bytes) -> PointId:
    return uuid.UUID(bytes=bytes(raw)) if kind == _ffi.QV_ID_UUID else int(num)


def _ids_array(ids: Iterable[IdLike]) -> np.ndarray:
    """ids as a C array of qv_point_id (a numpy array of ID_DTYPE)."""
    if isinstance(ids, np.ndarray) and ids.dtype.kind in "ui":
        if ids.dtype.kind == "i" and ids.size and ids.min() < 0:
            raise RangeError("negative integer id")
        out = np.zeros(ids.shape[0], ID_DTYPE)
        out["num"] = ids
        return out
    ids = list(ids)
    if all(type(pid) is int and 0 <= pid < 1 << 64 for pid in ids):
        out = np.zeros(len(ids), ID_DTYPE)
        out["num"] = np.array(ids, dtype=np.uint64)
        return out
    out = np.zeros(len(ids), ID_DTYPE)
    for i, pid in enumerate(ids):
        s = _id_struct(pid)
        out["kind"][i] = s.kind
        # The union's 16 bytes: a UUID, or the integer and 8 zero bytes.
        out["uuid"][i] = np.frombuffer(bytes(s.u.uuid), np.uint8)
    return out


def _ptr(arr: np.ndarray, ctype):
    return arr.ctypes.data_as(POINTER(ctype))


def _floats(data, what: str) -> np.ndarray:
    arr = np.ascontiguousarray(data, dtype=np.float32)
    if arr.ndim == 0:
        raise DimError("%s must be an array of floats" % what)
    return arr


def _json_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":"),
                      ensure_ascii=False).encode()


# ---- filters -----------------------------------------------------------------
class Filter:
    """A compiled Qdrant filter, from a dict or JSON text.  Immutable; any
    number of threads may search with it at once."""

    def __init__(self, spec: Union[Dict[str, Any], str, bytes]):
        text = _json_bytes(spec)
        handle = c_void_p()
        check_err(lambda err, cap: lib.qv_filter_parse(
            text, len(text), byref(handle), err, cap))
        self._handle = handle

    @staticmethod
    def of(spec: FilterLike) -> Optional["Filter"]:
        if spec is None or isinstance(spec, Filter):
            return spec
        return Filter(spec)

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            lib.qv_filter_free(handle)
            self._handle = None


# ---- collections -------------------------------------------------------------
def _config_struct(dim: int, metric: str, hnsw_m: Optional[int],
                   ef_construct: Optional[int],
                   full_scan_threshold_kb: Optional[int]):
    cfg = _ffi.qv_collection_config()
    lib.qv_collection_config_init(byref(cfg))
    if metric.lower() not in METRICS:
        raise InvalidError("unknown metric %r (cosine, dot, euclid, "
                           "manhattan)" % metric)
    if not 0 <= dim < 1 << 32:
        raise RangeError("dimension %d is out of range" % dim)
    cfg.dim = dim
    cfg.metric = METRICS[metric.lower()]
    if hnsw_m is not None:
        cfg.hnsw_m = hnsw_m
    if ef_construct is not None:
        cfg.hnsw_ef_construct = ef_construct
    if full_scan_threshold_kb is not None:
        cfg.full_scan_threshold_kb = full_scan_threshold_kb
    return cfg


def _facet_value(h: _ffi.qv_facet_hit) -> Union[str, int, bool]:
    if h.kind == _ffi.QV_FACET_STRING:
        return ctypes.string_at(h.str, h.len).decode("utf-8")
    if h.kind == _ffi.QV_FACET_NUMBER:
        return h.num.v.u if h.num.kind == _ffi.QV_NUM_UINT else h.num.v.i
    return bool(h.boolean)


class SearchResults:
    """The hits of a batch search, in one array laid out as C's qv_hit.

    `hits` is a (nq, k) structured array; `counts[i]` hits of row i are
    valid.  `scores` and `ids` (integer ids; 0 where a UUID is) are views of
    it.  Pass an instance as `out=` to reuse its memory for the next batch of
    the same shape."""

    def __init__(self, nq: int, k: int):
        self.hits = np.zeros((nq, k), HIT_DTYPE)
        self.counts = np.zeros(nq, np.uintp)

    @property
    def scores(self) -> np.ndarray:
        return self.hits["score"]

    @property
    def ids(self) -> np.ndarray:
        return self.hits["num"]

    def __len__(self) -> int:
        return self.hits.shape[0]

    def __getitem__(self, i: int) -> List[Hit]:
        row = self.hits[i, :int(self.counts[i])]
        return [Hit(_id_value(h["kind"], h["num"], h["uuid"]), float(h["score"]))
                for h in row]


class Collection:
    """Vectors under point ids, with payloads.  Create one with
    Collection(dim, metric=...), or get one from a Store or a snapshot."""

    def __init__(self, dim: int, metric: str = "cosine", *,
                 hnsw_m: Optional[int] = None,
                 ef_construct: Optional[int] = None,
                 full_scan_threshold_kb: Optional[int] = None):
        cfg = _config_struct(dim, metric, hnsw_m, ef_construct,
                             full_scan_threshold_kb)
        handle = c_void_p()
        code = lib.qv_collection_create(byref(cfg), byref(handle))
        if code != _ffi.QV_OK:
            raise error(code)
        self._handle = handle

    @classmethod
    def _adopt(cls, handle: c_void_p) -> "Collection":
        self = cls.__new__(cls)
        self._handle = handle
        return self

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            lib.qv_collection_release(handle)
            self._handle = None

    def _check(self, code: int) -> None:
        if code != _ffi.QV_OK:
            raise error(code, read_errmsg(lib.qv_collection_errmsg,
                                          self._handle))

    # -- configuration --
    @property
    def config(self) -> Dict[str, Any]:
        cfg = _ffi.qv_collection_config()
        self._check(lib.qv_collection_get_config(self._handle, byref(cfg)))
        return {"dim": cfg.dim, "metric": METRIC_NAMES.get(cfg.metric),
                "hnsw_m": cfg.hnsw_m, "ef_construct": cfg.hnsw_ef_construct,
                "full_scan_threshold_kb": cfg.full_scan_threshold_kb}

    @property
    def dim(self) -> int:
        return self.config["dim"]

    def __len__(self) -> int:
        return self.count()

    # -- points --
    def _rows(self, vectors, n: int) -> Tuple[np.ndarray, int]:
        """vectors as n C-contiguous float32 rows, and their dimension."""
        arr = _floats(vectors, "vectors")
        if arr.ndim == 1 and n == 1:
            arr = arr.reshape(1, -1)
        if n == 0 and arr.size == 0:
            return np.zeros((0, 1), np.float32), self.dim
        if arr.ndim != 2 or arr.shape[0] != n:
            raise DimError("vectors of shape %s for %d ids" % (arr.shape, n))
        return arr, arr.shape[1]

    def upsert(self, ids: Union[IdLike, Sequence[IdLike], np.ndarray],
               vectors, payloads: Optional[Sequence[Any]] = None) -> None:
        """Inserts or replaces points: ids[i] gets row i of `vectors` (an
        (n, dim) array; a single id takes one vector).  With `payloads`
        (dicts, JSON text, or None for {}), each point's payload is replaced;
        without, existing points keep theirs.  All or nothing."""
        if isinstance(ids, (int, str, uuid.UUID, np.integer)):
            ids = [ids]
        id_arr = _ids_array(ids)
        n = len(id_arr)
        arr, dim = self._rows(vectors, n)
        if payloads is None:
            self._check(lib.qv_upsert_batch(
                self._handle, _ptr(id_arr, _ffi.qv_point_id),
                _ptr(arr, c_float), n, dim))
            return
        if len(payloads) != n:
            raise InvalidError("%d payloads for %d ids" % (len(payloads), n))
        texts = [None if p is None else _json_bytes(p) for p in payloads]
        ptrs = (c_char_p * max(n, 1))(*texts)
        lens = (c_size_t * max(n, 1))(*[len(t) if t else 0 for t in texts])
        self._check(lib.qv_upsert_with_payloads(
            self._handle, _ptr(id_arr, _ffi.qv_point_id), _ptr(arr, c_float),
            n, dim, ptrs, lens))

    def get(self, pid: IdLike) -> np.ndarray:
        """The stored vector (normalised under cosine)."""
        dim = self.dim
        out = np.empty(dim, np.float32)
        s = _id_struct(pid)
        self._check(lib.qv_get(self._handle, byref(s), _ptr(out, c_float),
                               dim))
        return out

    def contains(self, pid: IdLike) -> bool:
        found = c_bool()
        s = _id_struct(pid)
        self._check(lib.qv_contains(self._handle, byref(s), byref(found)))
        return found.value

    __contains__ = contains

    def delete(self, ids: Union[IdLike, Sequence[IdLike]]) -> int:
        """Deletes the points that exist; returns how many."""
        if isinstance(ids, (int, str, uuid.UUID, np.integer)):
            ids = [ids]
        id_arr = _ids_array(ids)
        n = c_uint64()
        self._check(lib.qv_delete_batch(self._handle,
                                        _ptr(id_arr, _ffi.qv_point_id),
                                        len(id_arr), byref(n)))
        return n.value

    def delete_filter(self, filter: FilterLike) -> int:
        f = Filter.of(filter)
        if f is None:
            raise InvalidError("delete_filter needs a filter")
        n = c_uint64()
        self._check(lib.qv_delete_filter(self._handle, f._handle, byref(n)))
        return n.value

    def count(self, filter: FilterLike = None) -> int:
        n = c_uint64()
        f = Filter.of(filter)
        if f is None:
            self._check(lib.qv_count(self._handle, byref(n)))
        else:
            self._check(lib.qv_count_filter(self._handle, f._handle, byref(n)))
        return n.value

    def scroll(self, start: Optional[IdLike] = None, filter: FilterLike = None,
               limit: int = 10) -> Tuple[List[PointId], Optional[PointId]]:
        """Up to `limit` ids in id order from `start`, and the next page's
        first id (None at the end).  A page is at most as long as the
        collection was when the call began."""
        f = Filter.of(filter)
        # A page is never longer than the collection: points added
        # meanwhile come in the next page, so a huge limit costs nothing.
        room = max(min(limit, self.count()), 1) if limit > 0 else 1
        out = np.zeros(room, ID_DTYPE)
        n = c_size_t()
        nxt = _ffi.qv_point_id()
        has_next = c_bool()
        s = None if start is None else byref(_id_struct(start))
        self._check(lib.qv_scroll(self._handle, s, f._handle if f else None,
                                  room if limit > 0 else 0,
                                  _ptr(out, _ffi.qv_point_id),
                                  byref(n), byref(nxt), byref(has_next)))
        ids = [_id_value(r["kind"], r["num"], r["uuid"]) for r in out[:n.value]]
        following = _id_value(nxt.kind, nxt.u.num, bytes(nxt.u.uuid)) \
            if has_next.value else None
        return ids, following

    # -- payloads --
    def payload(self, pid: IdLike) -> Dict[str, Any]:
        return json.loads(self.payload_json(pid))

    def payload_json(self, pid: IdLike) -> str:
        text = c_char_p()
        n = c_size_t()
        s = _id_struct(pid)
        self._check(lib.qv_payload_get(self._handle, byref(s), None,
                                       byref(text), byref(n)))
        try:
            addr = ctypes.cast(text, c_void_p).value
            return ctypes.string_at(addr, n.value).decode("utf-8")
        finally:
            lib.qv_free(ctypes.cast(text, c_void_p))

    def set_payload(self, pid: IdLike, payload: Any) -> None:
        """Replaces the whole payload (Qdrant's overwrite_payload)."""
        text = _json_bytes(payload)
        s = _id_struct(pid)
        self._check(lib.qv_payload_overwrite(self._handle, byref(s), text,
                                             len(text)))

    def merge_payload(self, pid: IdLike, payload: Any,
                      key: Optional[str] = None) -> None:
        """Merges keys into the payload (Qdrant's set_payload)."""
        text = _json_bytes(payload)
        s = _id_struct(pid)
        self._check(lib.qv_payload_set(self._handle, byref(s), text,
                                       len(text),
                                       key.encode() if key else None))

    def delete_payload_keys(self, pid: IdLike, keys: Sequence[str]) -> None:
        arr = (c_char_p * max(len(keys), 1))(*[k.encode() for k in keys])
        s = _id_struct(pid)
        self._check(lib.qv_payload_delete_keys(self._handle, byref(s), arr,
                                               len(keys)))

    def clear_payload(self, pid: IdLike) -> None:
        s = _id_struct(pid)
        self._check(lib.qv_payload_clear(self._handle, byref(s)))

    def create_index(self, key: str, kind: str) -> None:
        code = c_uint()
        k = lib.qv_index_kind_parse(kind.encode(), byref(code))
        if k != _ffi.QV_OK:
            raise error(k, "unknown index kind %r" % kind)
        self._check(lib.qv_payload_index_create(self._handle, key.encode(),
                                                code.value))

    def drop_index(self, key: str) -> None:
        self._check(lib.qv_payload_index_drop(self._handle, key.encode()))

    def indexes(self) -> Dict[str, str]:
        arr = POINTER(_ffi.qv_payload_index_info)()
        n = c_size_t()
        self._check(lib.qv_payload_index_list(self._handle, byref(arr),
                                              byref(n)))
        try:
            return {arr[i].key.decode(): INDEX_KINDS[arr[i].kind]
                    for i in range(n.value)}
        finally:
            lib.qv_free(ctypes.cast(arr, c_void_p))

    def facet(self, key: str, filter: FilterLike = None, limit: int = 10
              ) -> List[Tuple[Union[str, int, bool], int]]:
        """Qdrant's facet: the `limit` values of the indexed `key` held by
        the most points matching `filter`, with exact counts, largest first.
        The key needs a keyword, integer, uuid or bool index."""
        f = Filter.of(filter)
        arr = POINTER(_ffi.qv_facet_hit)()
        n = c_size_t()
        self._check(lib.qv_facet(self._handle, key.encode(),
                                 f._handle if f else None, limit, byref(arr),
                                 byref(n)))
        try:
            return [(_facet_value(arr[i]), arr[i].count)
                    for i in range(n.value)]
        finally:
            lib.qv_free(ctypes.cast(arr, c_void_p))

    # -- search --
    @staticmethod
    def _params(k: int, f: Optional[Filter], exact: bool, hnsw_ef: int,
                score_threshold: Optional[float]) -> _ffi.qv_search_params:
        p = _ffi.qv_search_params()
        lib.qv_search_params_init(byref(p))
        if not 0 <= k < 1 << 32 or not 0 <= hnsw_ef < 1 << 32:
            raise RangeError("k %d or hnsw_ef %d is out of range" % (k, hnsw_ef))
        p.k = k
        p.exact = exact
        p.hnsw_ef = hnsw_ef
        if score_threshold is not None:
            p.use_threshold = True
            p.score_threshold = score_threshold
        p.filter = f._handle.value if f else None
        return p

    @staticmethod
    def _room(k: int) -> int:
        """Hits per query to allocate: a k the library refuses (0, or above
        QV_MAX_K) is refused before anything is written."""
        return k if 0 < k <= _ffi.QV_MAX_K else 1

    def search(self, query, k: int = 10, filter: FilterLike = None, *,
               exact: bool = False, hnsw_ef: int = 0,
               score_threshold: Optional[float] = None) -> List[Hit]:
        """The best k points for one query vector, best first."""
        q = _floats(query, "query")
        if q.ndim != 1:
            raise DimError("a query is one vector; use search_batch for %d-d "
                           "arrays" % q.ndim)
        f = Filter.of(filter)
        p = self._params(k, f, exact, hnsw_ef, score_threshold)
        out = SearchResults(1, self._room(k))
        n = c_size_t()
        self._check(lib.qv_search(self._handle, _ptr(q, c_float), q.shape[0],
                                  byref(p), _ptr(out.hits, _ffi.qv_hit),
                                  byref(n)))
        out.counts[0] = n.value
        return out[0]

    def search_batch(self, queries, k: int = 10, filter: FilterLike = None,
                     *, exact: bool = False, hnsw_ef: int = 0,
                     score_threshold: Optional[float] = None,
                     out: Optional[SearchResults] = None) -> SearchResults:
        """Searches every row of an (nq, dim) array at once."""
        q = _floats(queries, "queries")
        if q.ndim != 2:
            raise DimError("queries must be an (nq, dim) array, not %d-d" %
                           q.ndim)
        f = Filter.of(filter)
        p = self._params(k, f, exact, hnsw_ef, score_threshold)
        room = self._room(k)
        if out is None:
            out = SearchResults(q.shape[0], room)
        elif out.hits.shape != (q.shape[0], room):
            raise DimError("out has room for %s hits, the batch needs %s" %
                           (out.hits.shape, (q.shape[0], room)))
        self._check(lib.qv_search_batch(
            self._handle, _ptr(q, c_float), q.shape[0], q.shape[1], byref(p),
            _ptr(out.hits, _ffi.qv_hit), _ptr(out.counts, c_size_t)))
        return out

    # -- snapshots and JSON --
    def save_snapshot(self, path: str) -> None:
        self._check(lib.qv_snapshot_save(self._handle, _path(path)))

    @classmethod
    def open_snapshot(cls, path: str, verify: bool = False) -> "Collection":
        handle = c_void_p()
        flags = _ffi.QV_SNAPSHOT_VERIFY if verify else 0
        check_err(lambda err, cap: lib.qv_snapshot_open(
            _path(path), flags, byref(handle), err, cap))
        return cls._adopt(handle)

    @classmethod
    def import_json(cls, path: str, metric: str = "cosine") -> "Collection":
        cfg = _config_struct(0, metric, None, None, None)
        handle = c_void_p()
        check_err(lambda err, cap: lib.qv_json_import(
            _path(path), byref(cfg), byref(handle), err, cap))
        return cls._adopt(handle)

    def export_json(self, path: str) -> None:
        check_err(lambda err, cap: lib.qv_json_export(
            self._handle, _path(path), _ffi.QV_JSON_POINTS, err, cap))


def _path(path) -> bytes:
    import os
    return os.fsencode(path)


def verify_snapshot(path: str) -> None:
    """Checks a snapshot file in full; raises what opening it would."""
    check_err(lambda err, cap: lib.qv_snapshot_verify(_path(path), err, cap))


def describe_snapshot(path: str) -> Dict[str, Any]:
    """What a snapshot file holds, from its header and small sections."""
    info = POINTER(_ffi.qv_snapshot_info)()
    check_err(lambda err, cap: lib.qv_snapshot_describe(
        _path(path), byref(info), err, cap))
    try:
        i = info.contents
        return {"file_bytes": i.file_bytes, "format_version": i.format_version,
                "dim": i.config.dim,
                "metric": METRIC_NAMES.get(i.config.metric),
                "points": i.points, "has_graph": i.has_graph,
                "sections": [i.sections[s].name.decode()
                             if i.sections[s].name else None
                             for s in range(i.n_sections)]}
    finally:
        lib.qv_free(ctypes.cast(info, c_void_p))


# ---- stores ------------------------------------------------------------------
class Store:
    """Named collections: Store() in memory, Store.open_dir(path) durable
    (every write logged and synced before it returns, recovered after a
    crash).  Use as a context manager, or call close()."""

    def __init__(self, _handle: Optional[c_void_p] = None):
        if _handle is None:
            _handle = c_void_p()
            code = lib.qv_store_open(byref(_handle))
            if code != _ffi.QV_OK:
                raise error(code)
        self._handle = _handle
        self._cv = threading.Condition()
        self._active = 0

    @classmethod
    def open_dir(cls, path: str) -> "Store":
        handle = c_void_p()
        check_err(lambda err, cap: lib.qv_store_open_dir(
            _path(path), None, byref(handle), err, cap))
        return cls(handle)

    def _call(self, fn, *args) -> None:
        with self._cv:
            if not self._handle:
                raise InvalidError("the store is closed")
            self._active += 1
            handle = self._handle
        try:
            code = fn(handle, *args)
            if code != _ffi.QV_OK:
                raise error(code, read_errmsg(lib.qv_store_errmsg, handle))
        finally:
            with self._cv:
                self._active -= 1
                self._cv.notify_all()

    def close(self) -> None:
        """Closes the store once calls in flight return (a durable store
        checkpoints every collection).  Collections taken from it stay
        usable; later calls on the store raise."""
        with self._cv:
            handle, self._handle = self._handle, None
            while self._active:
                self._cv.wait()
        if handle:
            lib.qv_store_close(handle)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None):
            self.close()

    def create(self, name: str, dim: int, metric: str = "cosine",
               **hnsw) -> Collection:
        cfg = _config_struct(dim, metric, hnsw.get("hnsw_m"),
                             hnsw.get("ef_construct"),
                             hnsw.get("full_scan_threshold_kb"))
        handle = c_void_p()
        self._call(lib.qv_store_create, name.encode(), byref(cfg),
                   byref(handle))
        return Collection._adopt(handle)

    def ensure(self, name: str, dim: int, metric: str = "cosine",
               **hnsw) -> Tuple[Collection, bool]:
        """The collection, created if absent; ExistsError if it exists with
        another config.  The flag says whether it was created."""
        cfg = _config_struct(dim, metric, hnsw.get("hnsw_m"),
                             hnsw.get("ef_construct"),
                             hnsw.get("full_scan_threshold_kb"))
        handle = c_void_p()
        created = c_bool()
        self._call(lib.qv_store_ensure, name.encode(), byref(cfg),
                   byref(handle), byref(created))
        return Collection._adopt(handle), created.value

    def get(self, name: str) -> Collection:
        handle = c_void_p()
        self._call(lib.qv_store_get, name.encode(), byref(handle))
        return Collection._adopt(handle)

    def drop(self, name: str) -> None:
        self._call(lib.qv_store_drop, name.encode())

    def list(self) -> List[str]:
        names = POINTER(c_char_p)()
        n = c_size_t()
        self._call(lib.qv_store_list, byref(names), byref(n))
        try:
            return [names[i].decode() for i in range(n.value)]
        finally:
            lib.qv_free(ctypes.cast(names, c_void_p))

    def total_points(self) -> int:
        n = c_uint64()
        self._call(lib.qv_store_total_points, byref(n))
        return n.value

    def checkpoint(self) -> None:
        self._call(lib.qv_store_checkpoint)


def replace_file(path: str, data: bytes) -> None:
    """Writes `data` over `path` crash-safely (temporary file, fsync,
    rename, directory fsync), with the library's one implementation."""
    w = c_void_p()
    check_err(lambda err, cap: lib.qv_file_replace_begin(
        _path(path), byref(w), err, cap))
    # A failed write leaves the writer failed; commit reports it.
    lib.qv_file_replace_write(w, data, len(data))
    check_err(lambda err, cap: lib.qv_file_replace_commit(w, err, cap))


__all__ = ["Collection", "Store", "Filter", "Hit", "SearchResults", "PointId",
           "verify_snapshot", "describe_snapshot", "NotFoundError"]
