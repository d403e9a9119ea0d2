"""The C API of include/quiver.h as ctypes declarations, written by hand.

This module only declares: it imports nothing but ctypes and never loads the
library, so that bindings/check_ffi.py (ctest `bindings_ffi_drift`) can
compare every structure, prototype and constant here with quiver.h and fail
on any difference.  quiver/_lib.py loads libquiver.so and applies
PROTOTYPES to it.  C enums are c_uint (GCC's layout for an enum without
negative values); opaque handles are c_void_p; anonymous unions are named
<struct>_<field>.  When quiver.h changes, change this file in the same
commit.
"""

from ctypes import (POINTER, Structure, Union, c_bool, c_char, c_char_p,
                    c_double, c_float, c_int, c_int32, c_int64, c_size_t,
                    c_uint, c_uint8, c_uint32, c_uint64, c_void_p)

# ---- enumerators and #define constants -------------------------------------
CONSTANTS = {
    "QV_OK": 0, "QV_ENULL": 1, "QV_EINVAL": 2, "QV_ERANGE": 3, "QV_EDIM": 4,
    "QV_ENONFINITE": 5, "QV_ENOTFOUND": 6, "QV_EEXIST": 7, "QV_ENOMEM": 8,
    "QV_EIO": 9, "QV_ECORRUPT": 10, "QV_EFORMAT": 11, "QV_EINTERNAL": 12,
    "QV_STATUS_COUNT": 13,
    "QV_ID_NUM": 0, "QV_ID_UUID": 1,
    "QV_METRIC_COSINE": 0, "QV_METRIC_DOT": 1, "QV_METRIC_EUCLID": 2,
    "QV_METRIC_MANHATTAN": 3,
    "QV_INDEX_KEYWORD": 0, "QV_INDEX_INTEGER": 1, "QV_INDEX_FLOAT": 2,
    "QV_INDEX_BOOL": 3, "QV_INDEX_DATETIME": 4, "QV_INDEX_UUID": 5,
    "QV_INDEX_TEXT": 6, "QV_INDEX_GEO": 7,
    "QV_JSON_POINTS": 0, "QV_JSON_LANGCHAIN": 1,
    "QV_NUM_DOUBLE": 0, "QV_NUM_INT": 1, "QV_NUM_UINT": 2,
    "QV_FACET_STRING": 0, "QV_FACET_NUMBER": 1, "QV_FACET_BOOL": 2,
    "QV_COLLECTION_CONFIG_VERSION": 2, "QV_SEARCH_PARAMS_VERSION": 1,
    "QV_STORE_OPTIONS_VERSION": 1, "QV_DEFAULT_HNSW_M": 16,
    "QV_DEFAULT_EF_CONSTRUCT": 100, "QV_DEFAULT_FULL_SCAN_THRESHOLD_KB": 10000,
    "QV_MAX_K": 1000000, "QV_SNAPSHOT_VERIFY": 1, "QV_UUID_STRLEN": 37,
    "QV_DEFAULT_CHECKPOINT_WAL_BYTES": 64 << 20,
}
globals().update(CONSTANTS)

STATUS_NAMES = ["QV_OK", "QV_ENULL", "QV_EINVAL", "QV_ERANGE", "QV_EDIM",
                "QV_ENONFINITE", "QV_ENOTFOUND", "QV_EEXIST", "QV_ENOMEM",
                "QV_EIO", "QV_ECORRUPT", "QV_EFORMAT", "QV_EINTERNAL"]


# ---- structures ------------------------------------------------------------
class qv_point_id_u(Union):
    _fields_ = [("num", c_uint64), ("uuid", c_uint8 * 16)]


class qv_point_id(Structure):
    _fields_ = [("kind", c_uint32), ("reserved", c_uint32), ("u", qv_point_id_u)]


class qv_collection_config(Structure):
    _fields_ = [("dim", c_uint32), ("metric", c_uint), ("hnsw_m", c_uint32),
                ("hnsw_ef_construct", c_uint32),
                ("full_scan_threshold_kb", c_uint32),
                ("hnsw_seed", c_uint64), ("max_indexing_threads", c_uint32),
                ("kind", c_uint32), ("sparse_modifier", c_uint32),
                ("sparse_full_scan_threshold", c_uint32),
                ("multivector", c_uint32),
                ("quantization", c_uint32), ("quant_quantile", c_float),
                ("quant_always_ram", c_bool), ("quant_encoding", c_uint32),
                ("quant_query_encoding", c_uint32),
                ("version", c_uint32), ("datatype", c_uint32)]


class qv_search_params(Structure):
    _fields_ = [("k", c_uint32), ("use_threshold", c_bool),
                ("score_threshold", c_float), ("hnsw_ef", c_uint32),
                ("exact", c_bool), ("filter", c_void_p),
                ("quant_ignore", c_bool), ("quant_rescore", c_uint32),
                ("quant_oversampling", c_double), ("version", c_uint32)]


class qv_hit(Structure):
    _fields_ = [("id", qv_point_id), ("score", c_float)]


class qv_payload_index_info(Structure):
    _fields_ = [("key", c_char_p), ("kind", c_uint), ("points", c_uint64),
                ("bytes", c_uint64)]


class qv_payload_select(Structure):
    _fields_ = [("include", POINTER(c_char_p)), ("n_include", c_size_t),
                ("exclude", POINTER(c_char_p)), ("n_exclude", c_size_t)]


class qv_number_v(Union):
    _fields_ = [("d", c_double), ("i", c_int64), ("u", c_uint64)]


class qv_number(Structure):
    _fields_ = [("kind", c_uint), ("v", qv_number_v)]


class qv_facet_hit(Structure):
    _fields_ = [("kind", c_uint), ("str", POINTER(c_char)), ("len", c_size_t),
                ("num", qv_number), ("boolean", c_bool), ("count", c_uint64)]


class qv_store_options(Structure):
    _fields_ = [("checkpoint_wal_bytes", c_uint64), ("verify_on_open", c_bool),
                ("version", c_uint32)]


class qv_snapshot_section_info(Structure):
    _fields_ = [("kind", c_uint32), ("name", c_char_p), ("required", c_bool),
                ("checked_at_open", c_bool), ("offset", c_uint64),
                ("length", c_uint64), ("checksum", c_uint64)]


class qv_snapshot_info(Structure):
    _fields_ = [("file_bytes", c_uint64), ("format_version", c_uint32),
                ("header_checksum", c_uint64),
                ("config", qv_collection_config), ("stride", c_uint32),
                ("wal_lsn", c_uint64), ("points", c_uint64),
                ("slots", c_uint32), ("idmap_buckets", c_uint64),
                ("has_graph", c_bool), ("graph_nodes", c_uint64),
                ("graph_max_level", c_int32), ("graph_entry", c_uint32),
                ("graph_upper_nodes", c_uint32),
                ("graph_level_nodes", POINTER(c_uint64)),
                ("n_sections", c_size_t),
                ("sections", POINTER(qv_snapshot_section_info))]


STRUCTS = ["qv_point_id_u", "qv_point_id", "qv_collection_config",
           "qv_search_params", "qv_hit", "qv_payload_index_info",
           "qv_store_options", "qv_payload_select",
           "qv_number_v", "qv_number", "qv_facet_hit",
           "qv_snapshot_section_info", "qv_snapshot_info"]

# ---- functions: name -> (restype, argtypes) --------------------------------
_P = c_void_p            # opaque handles
_PP = POINTER(c_void_p)  # handle out-parameters
_ID = POINTER(qv_point_id)
_F32 = POINTER(c_float)
_ERR = (c_char_p, c_size_t)

PROTOTYPES = {
    "qv_strerror": (c_char_p, [c_uint]),
    "qv_status_name": (c_char_p, [c_uint]),
    "qv_id_parse_uuid": (c_uint, [c_char_p, _ID]),
    "qv_id_format": (c_uint, [_ID, c_char_p, c_size_t]),
    "qv_id_compare": (c_int, [_ID, _ID]),
    "qv_collection_config_init": (None, [POINTER(qv_collection_config)]),
    "qv_collection_create": (c_uint, [POINTER(qv_collection_config), _PP]),
    "qv_collection_retain": (None, [_P]),
    "qv_collection_release": (None, [_P]),
    "qv_collection_get_config": (c_uint, [_P, POINTER(qv_collection_config)]),
    "qv_collection_errmsg": (c_size_t, [_P, c_char_p, c_size_t]),
    "qv_upsert_batch": (c_uint, [_P, _ID, _F32, c_size_t, c_uint32]),
    "qv_upsert_with_payloads": (c_uint, [_P, _ID, _F32, c_size_t, c_uint32,
                                         POINTER(c_char_p),
                                         POINTER(c_size_t)]),
    "qv_get": (c_uint, [_P, _ID, _F32, c_uint32]),
    "qv_contains": (c_uint, [_P, _ID, POINTER(c_bool)]),
    "qv_delete_batch": (c_uint, [_P, _ID, c_size_t, POINTER(c_uint64)]),
    "qv_count": (c_uint, [_P, POINTER(c_uint64)]),
    "qv_delete": (c_uint, [_P, _ID]),
    "qv_scroll": (c_uint, [_P, _ID, _P, c_size_t, _ID, POINTER(c_size_t), _ID,
                           POINTER(c_bool)]),
    "qv_payload_overwrite": (c_uint, [_P, _ID, c_char_p, c_size_t]),
    "qv_payload_set": (c_uint, [_P, _ID, c_char_p, c_size_t, c_char_p]),
    "qv_payload_delete_keys": (c_uint, [_P, _ID, POINTER(c_char_p), c_size_t]),
    "qv_payload_clear": (c_uint, [_P, _ID]),
    "qv_payload_get": (c_uint, [_P, _ID, POINTER(qv_payload_select),
                                POINTER(c_char_p),
                                POINTER(c_size_t)]),
    "qv_count_filter": (c_uint, [_P, _P, POINTER(c_uint64)]),
    "qv_delete_filter": (c_uint, [_P, _P, POINTER(c_uint64)]),
    "qv_index_kind_parse": (c_uint, [c_char_p, POINTER(c_uint)]),
    "qv_payload_index_create": (c_uint, [_P, c_char_p, c_uint]),
    "qv_payload_index_drop": (c_uint, [_P, c_char_p]),
    "qv_payload_index_list": (c_uint, [_P, POINTER(POINTER(qv_payload_index_info)),
                                       POINTER(c_size_t)]),
    "qv_filter_parse": (c_uint, [c_char_p, c_size_t, _PP, *_ERR]),
    "qv_filter_free": (None, [_P]),
    "qv_search_params_init": (None, [POINTER(qv_search_params)]),
    "qv_search": (c_uint, [_P, _F32, c_uint32, POINTER(qv_search_params),
                           POINTER(qv_hit), POINTER(c_size_t)]),
    "qv_search_batch": (c_uint, [_P, _F32, c_size_t, c_uint32,
                                 POINTER(qv_search_params), POINTER(qv_hit),
                                 POINTER(c_size_t)]),
    "qv_json_import": (c_uint, [c_char_p, POINTER(qv_collection_config), _PP,
                                *_ERR]),
    "qv_json_export": (c_uint, [_P, c_char_p, c_uint, *_ERR]),
    "qv_snapshot_save": (c_uint, [_P, c_char_p]),
    "qv_snapshot_open": (c_uint, [c_char_p, c_uint, _PP, *_ERR]),
    "qv_snapshot_verify": (c_uint, [c_char_p, *_ERR]),
    "qv_snapshot_describe": (c_uint, [c_char_p,
                                      POINTER(POINTER(qv_snapshot_info)),
                                      *_ERR]),
    "qv_file_replace_begin": (c_uint, [c_char_p, _PP, *_ERR]),
    "qv_file_replace_write": (c_uint, [_P, c_void_p, c_size_t]),
    "qv_file_replace_commit": (c_uint, [_P, *_ERR]),
    "qv_file_replace_abort": (None, [_P]),
    "qv_store_open": (c_uint, [_PP]),
    "qv_store_close": (None, [_P]),
    "qv_store_errmsg": (c_size_t, [_P, c_char_p, c_size_t]),
    "qv_store_create": (c_uint, [_P, c_char_p, POINTER(qv_collection_config),
                                 _PP]),
    "qv_store_ensure": (c_uint, [_P, c_char_p, POINTER(qv_collection_config),
                                 _PP, POINTER(c_bool)]),
    "qv_store_get": (c_uint, [_P, c_char_p, _PP]),
    "qv_store_drop": (c_uint, [_P, c_char_p]),
    "qv_store_list": (c_uint, [_P, POINTER(POINTER(c_char_p)),
                               POINTER(c_size_t)]),
    "qv_store_total_points": (c_uint, [_P, POINTER(c_uint64)]),
    "qv_free": (None, [c_void_p]),
    "qv_store_options_init": (None, [POINTER(qv_store_options)]),
    "qv_store_open_dir": (c_uint, [c_char_p, POINTER(qv_store_options), _PP,
                                   *_ERR]),
    "qv_store_checkpoint": (c_uint, [_P]),
    "qv_facet": (c_uint, [_P, c_char_p, _P, c_size_t,
                          POINTER(POINTER(qv_facet_hit)), POINTER(c_size_t)]),
}
