//! The C API of include/quiver.h, declared by hand.
//!
//! Nothing here is safe to call without reading the header's contract for
//! the function; the rest of the crate wraps these declarations in safe types.
//! They are written by hand (the crate has no dependencies, so no bindgen)
//! and kept true by bindings/check_ffi.py, registered in ctest as
//! `bindings_ffi_drift`: every function, struct, union, enum and constant
//! declared here is compared with quiver.h, type by type and field by field,
//! and any difference fails the test.  When quiver.h changes, change this file
//! in the same commit.  A field added to a struct needs only its declaration
//! here: the safe layer starts every struct it hands the library from the
//! library's own *_init, so the new field keeps its default.
//!
//! Conventions: C enums are `c_uint` aliases (GCC gives an enum whose values
//! are all non-negative the layout of unsigned int) with one `const` per
//! enumerator; opaque handles are zero-sized structs that are only ever used
//! behind pointers; anonymous unions are named `<struct>_<field>`.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

// ---- status codes ---------------------------------------------------------
pub type qv_status = c_uint;
pub const QV_OK: qv_status = 0;
pub const QV_ENULL: qv_status = 1;
pub const QV_EINVAL: qv_status = 2;
pub const QV_ERANGE: qv_status = 3;
pub const QV_EDIM: qv_status = 4;
pub const QV_ENONFINITE: qv_status = 5;
pub const QV_ENOTFOUND: qv_status = 6;
pub const QV_EEXIST: qv_status = 7;
pub const QV_ENOMEM: qv_status = 8;
pub const QV_EIO: qv_status = 9;
pub const QV_ECORRUPT: qv_status = 10;
pub const QV_EFORMAT: qv_status = 11;
pub const QV_EINTERNAL: qv_status = 12;
pub const QV_STATUS_COUNT: qv_status = 13;

// ---- enums ----------------------------------------------------------------
pub type qv_id_kind = c_uint;
pub const QV_ID_NUM: qv_id_kind = 0;
pub const QV_ID_UUID: qv_id_kind = 1;

pub type qv_metric = c_uint;
pub const QV_METRIC_COSINE: qv_metric = 0;
pub const QV_METRIC_DOT: qv_metric = 1;
pub const QV_METRIC_EUCLID: qv_metric = 2;
pub const QV_METRIC_MANHATTAN: qv_metric = 3;

pub type qv_payload_edit_kind = c_uint;
pub const QV_PAYLOAD_EDIT_SET: qv_payload_edit_kind = 1;
pub const QV_PAYLOAD_EDIT_OVERWRITE: qv_payload_edit_kind = 2;
pub const QV_PAYLOAD_EDIT_DELETE_KEYS: qv_payload_edit_kind = 3;
pub const QV_PAYLOAD_EDIT_CLEAR: qv_payload_edit_kind = 4;

pub type qv_index_kind = c_uint;
pub const QV_INDEX_KEYWORD: qv_index_kind = 0;
pub const QV_INDEX_INTEGER: qv_index_kind = 1;
pub const QV_INDEX_FLOAT: qv_index_kind = 2;
pub const QV_INDEX_BOOL: qv_index_kind = 3;
pub const QV_INDEX_DATETIME: qv_index_kind = 4;
pub const QV_INDEX_UUID: qv_index_kind = 5;
pub const QV_INDEX_TEXT: qv_index_kind = 6;
pub const QV_INDEX_GEO: qv_index_kind = 7;
pub const QV_INDEX_KIND_COUNT: qv_index_kind = 8;

pub type qv_number_kind = c_uint;
pub const QV_NUM_DOUBLE: qv_number_kind = 0;
pub const QV_NUM_INT: qv_number_kind = 1;
pub const QV_NUM_UINT: qv_number_kind = 2;

pub type qv_facet_kind = c_uint;
pub const QV_FACET_STRING: qv_facet_kind = 0;
pub const QV_FACET_NUMBER: qv_facet_kind = 1;
pub const QV_FACET_BOOL: qv_facet_kind = 2;

pub type qv_json_format = c_uint;
pub const QV_JSON_POINTS: qv_json_format = 0;
pub const QV_JSON_LANGCHAIN: qv_json_format = 1;

// ---- constants ------------------------------------------------------------
pub const QV_VERSION_STRING: &str = "0.1.0";
pub const QV_UUID_STRLEN: usize = 37;
pub const QV_MIN_DIM: u32 = 1;
pub const QV_MAX_DIM: u32 = 65536;
pub const QV_DEFAULT_HNSW_M: u32 = 16;
pub const QV_DEFAULT_EF_CONSTRUCT: u32 = 100;
pub const QV_DEFAULT_FULL_SCAN_THRESHOLD_KB: u32 = 10000;
pub const QV_COLLECTION_CONFIG_VERSION: u32 = 2;
pub const QV_ORDER_BY_VERSION: u32 = 2;
pub const QV_MIN_K: u32 = 1;
pub const QV_MAX_K: u32 = 1000000;
pub const QV_SEARCH_PARAMS_VERSION: u32 = 1;
pub const QV_SNAPSHOT_VERIFY: c_uint = 0x1;
pub const QV_MAX_NAME: usize = 255;
pub const QV_STORE_OPTIONS_VERSION: u32 = 1;

// ---- opaque handles -------------------------------------------------------
#[repr(C)]
pub struct qv_collection {
    _private: [u8; 0],
}
#[repr(C)]
pub struct qv_filter {
    _private: [u8; 0],
}
#[repr(C)]
pub struct qv_store {
    _private: [u8; 0],
}
#[repr(C)]
pub struct qv_group {
    _private: [u8; 0],
}
#[repr(C)]
pub struct qv_file_writer {
    _private: [u8; 0],
}

// ---- structs --------------------------------------------------------------
#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_build_info {
    pub version: *const c_char,
    pub simd_level: *const c_char,
    pub simd_available: *const c_char,
    pub build_type: *const c_char,
    pub blas: *const c_char,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union qv_point_id_u {
    pub num: u64,
    pub uuid: [u8; 16],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_point_id {
    pub kind: u32,
    pub reserved: u32,
    pub u: qv_point_id_u,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct qv_collection_config {
    pub dim: u32,
    pub metric: qv_metric,
    pub hnsw_m: u32,
    pub hnsw_ef_construct: u32,
    pub full_scan_threshold_kb: u32,
    pub hnsw_seed: u64,
    pub max_indexing_threads: u32,
    pub kind: u32,
    pub sparse_modifier: u32,
    pub sparse_full_scan_threshold: u32,
    pub multivector: u32,
    pub quantization: u32,
    pub quant_quantile: f32,
    pub quant_always_ram: bool,
    pub quant_encoding: u32,
    pub quant_query_encoding: u32,
    pub version: u32,
    pub datatype: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_payload_edit {
    pub kind: qv_payload_edit_kind,
    pub json: *const c_char,
    pub len: usize,
    pub key: *const c_char,
    pub keys: *const *const c_char,
    pub n_keys: usize,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_payload_select {
    pub include: *const *const c_char,
    pub n_include: usize,
    pub exclude: *const *const c_char,
    pub n_exclude: usize,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_payload_index_info {
    pub key: *const c_char,
    pub kind: qv_index_kind,
    pub points: u64,
    pub bytes: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union qv_number_v {
    pub d: f64,
    pub i: i64,
    pub u: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_number {
    pub kind: qv_number_kind,
    pub v: qv_number_v,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_order_by {
    pub key: *const c_char,
    pub descending: bool,
    pub use_start: bool,
    pub start_from: f64,
    pub version: u32,
    pub start_exact: qv_number,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_search_params {
    pub k: u32,
    pub use_threshold: bool,
    pub score_threshold: f32,
    pub hnsw_ef: u32,
    pub exact: bool,
    pub filter: *const qv_filter,
    pub quant_ignore: bool,
    pub quant_rescore: u32,
    pub quant_oversampling: f64,
    pub version: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_hit {
    pub id: qv_point_id,
    pub score: f32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_snapshot_section_info {
    pub kind: u32,
    pub name: *const c_char,
    pub required: bool,
    pub checked_at_open: bool,
    pub offset: u64,
    pub length: u64,
    pub checksum: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_snapshot_info {
    pub file_bytes: u64,
    pub format_version: u32,
    pub header_checksum: u64,
    pub config: qv_collection_config,
    pub stride: u32,
    pub wal_lsn: u64,
    pub points: u64,
    pub slots: u32,
    pub idmap_buckets: u64,
    pub has_graph: bool,
    pub graph_nodes: u64,
    pub graph_max_level: i32,
    pub graph_entry: u32,
    pub graph_upper_nodes: u32,
    pub graph_level_nodes: *const u64,
    pub n_sections: usize,
    pub sections: *const qv_snapshot_section_info,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_facet_hit {
    pub kind: qv_facet_kind,
    pub str: *const c_char,
    pub len: usize,
    pub num: qv_number,
    pub boolean: bool,
    pub count: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct qv_store_options {
    pub checkpoint_wal_bytes: u64,
    pub verify_on_open: bool,
    pub version: u32,
}

// ---- functions ------------------------------------------------------------
extern "C" {
    pub fn qv_strerror(status: qv_status) -> *const c_char;
    pub fn qv_status_name(status: qv_status) -> *const c_char;
    pub fn qv_build_info_get(info: *mut qv_build_info);

    pub fn qv_id_from_num(num: u64) -> qv_point_id;
    pub fn qv_id_parse_uuid(text: *const c_char, out: *mut qv_point_id) -> qv_status;
    pub fn qv_id_format(id: *const qv_point_id, buf: *mut c_char, cap: usize) -> qv_status;
    pub fn qv_id_compare(a: *const qv_point_id, b: *const qv_point_id) -> c_int;

    pub fn qv_metric_name(metric: qv_metric) -> *const c_char;
    pub fn qv_metric_parse(name: *const c_char, out: *mut qv_metric) -> qv_status;
    pub fn qv_metric_higher_is_better(metric: qv_metric) -> bool;

    pub fn qv_collection_config_init(cfg: *mut qv_collection_config);
    pub fn qv_collection_create(
        cfg: *const qv_collection_config,
        out: *mut *mut qv_collection,
    ) -> qv_status;
    pub fn qv_collection_retain(c: *mut qv_collection);
    pub fn qv_collection_release(c: *mut qv_collection);
    pub fn qv_collection_get_config(
        c: *const qv_collection,
        out: *mut qv_collection_config,
    ) -> qv_status;
    pub fn qv_collection_errmsg(c: *const qv_collection, buf: *mut c_char, cap: usize) -> usize;

    pub fn qv_upsert(
        c: *mut qv_collection,
        id: *const qv_point_id,
        vec: *const f32,
        dim: u32,
    ) -> qv_status;
    pub fn qv_upsert_batch(
        c: *mut qv_collection,
        ids: *const qv_point_id,
        vecs: *const f32,
        n: usize,
        dim: u32,
    ) -> qv_status;
    pub fn qv_get(
        c: *mut qv_collection,
        id: *const qv_point_id,
        out: *mut f32,
        dim: u32,
    ) -> qv_status;
    pub fn qv_contains(c: *mut qv_collection, id: *const qv_point_id, out: *mut bool) -> qv_status;
    pub fn qv_delete(c: *mut qv_collection, id: *const qv_point_id) -> qv_status;
    pub fn qv_delete_batch(
        c: *mut qv_collection,
        ids: *const qv_point_id,
        n: usize,
        deleted: *mut u64,
    ) -> qv_status;
    pub fn qv_count(c: *mut qv_collection, out: *mut u64) -> qv_status;
    pub fn qv_count_approx(c: *mut qv_collection, out: *mut u64) -> qv_status;
    pub fn qv_indexed_count(c: *mut qv_collection, out: *mut u64) -> qv_status;
    pub fn qv_scroll(
        c: *mut qv_collection,
        start: *const qv_point_id,
        filter: *const qv_filter,
        limit: usize,
        ids_out: *mut qv_point_id,
        n_out: *mut usize,
        next: *mut qv_point_id,
        has_next: *mut bool,
    ) -> qv_status;

    pub fn qv_upsert_with_payloads(
        c: *mut qv_collection,
        ids: *const qv_point_id,
        vecs: *const f32,
        n: usize,
        dim: u32,
        payloads: *const *const c_char,
        lens: *const usize,
    ) -> qv_status;
    pub fn qv_payload_overwrite(
        c: *mut qv_collection,
        id: *const qv_point_id,
        json: *const c_char,
        len: usize,
    ) -> qv_status;
    pub fn qv_payload_set(
        c: *mut qv_collection,
        id: *const qv_point_id,
        json: *const c_char,
        len: usize,
        key: *const c_char,
    ) -> qv_status;
    pub fn qv_payload_delete_keys(
        c: *mut qv_collection,
        id: *const qv_point_id,
        keys: *const *const c_char,
        n: usize,
    ) -> qv_status;
    pub fn qv_payload_clear(c: *mut qv_collection, id: *const qv_point_id) -> qv_status;
    pub fn qv_payload_edit_batch(
        c: *mut qv_collection,
        ids: *const qv_point_id,
        n: usize,
        edits: *const qv_payload_edit,
        n_edits: usize,
    ) -> qv_status;
    pub fn qv_payload_get(
        c: *mut qv_collection,
        id: *const qv_point_id,
        sel: *const qv_payload_select,
        json: *mut *mut c_char,
        len: *mut usize,
    ) -> qv_status;
    pub fn qv_count_filter(
        c: *mut qv_collection,
        filter: *const qv_filter,
        out: *mut u64,
    ) -> qv_status;
    pub fn qv_delete_filter(
        c: *mut qv_collection,
        filter: *const qv_filter,
        deleted: *mut u64,
    ) -> qv_status;

    pub fn qv_index_kind_name(kind: qv_index_kind) -> *const c_char;
    pub fn qv_index_kind_parse(name: *const c_char, out: *mut qv_index_kind) -> qv_status;
    pub fn qv_payload_index_create(
        c: *mut qv_collection,
        key: *const c_char,
        kind: qv_index_kind,
    ) -> qv_status;
    pub fn qv_payload_index_drop(c: *mut qv_collection, key: *const c_char) -> qv_status;
    pub fn qv_payload_index_list(
        c: *mut qv_collection,
        out: *mut *mut qv_payload_index_info,
        n: *mut usize,
    ) -> qv_status;
    pub fn qv_order_by_init(o: *mut qv_order_by);
    pub fn qv_scroll_order_by(
        c: *mut qv_collection,
        order: *const qv_order_by,
        filter: *const qv_filter,
        limit: usize,
        ids_out: *mut qv_point_id,
        values_out: *mut f64,
        n_out: *mut usize,
    ) -> qv_status;
    pub fn qv_scroll_order_by_exact(
        c: *mut qv_collection,
        order: *const qv_order_by,
        filter: *const qv_filter,
        limit: usize,
        ids_out: *mut qv_point_id,
        values_out: *mut qv_number,
        n_out: *mut usize,
    ) -> qv_status;

    pub fn qv_filter_parse(
        json: *const c_char,
        len: usize,
        out: *mut *mut qv_filter,
        err: *mut c_char,
        errcap: usize,
    ) -> qv_status;
    pub fn qv_filter_free(f: *mut qv_filter);

    pub fn qv_search_params_init(params: *mut qv_search_params);
    pub fn qv_search(
        c: *mut qv_collection,
        query: *const f32,
        dim: u32,
        params: *const qv_search_params,
        hits: *mut qv_hit,
        n_hits: *mut usize,
    ) -> qv_status;
    pub fn qv_search_batch(
        c: *mut qv_collection,
        queries: *const f32,
        nq: usize,
        dim: u32,
        params: *const qv_search_params,
        hits: *mut qv_hit,
        n_hits: *mut usize,
    ) -> qv_status;

    pub fn qv_json_import(
        path: *const c_char,
        cfg: *const qv_collection_config,
        out: *mut *mut qv_collection,
        err: *mut c_char,
        errcap: usize,
    ) -> qv_status;
    pub fn qv_json_export(
        c: *mut qv_collection,
        path: *const c_char,
        format: qv_json_format,
        err: *mut c_char,
        errcap: usize,
    ) -> qv_status;

    pub fn qv_snapshot_save(c: *mut qv_collection, path: *const c_char) -> qv_status;
    pub fn qv_snapshot_open(
        path: *const c_char,
        flags: c_uint,
        out: *mut *mut qv_collection,
        err: *mut c_char,
        errcap: usize,
    ) -> qv_status;
    pub fn qv_snapshot_verify(path: *const c_char, err: *mut c_char, errcap: usize) -> qv_status;
    pub fn qv_snapshot_archive_verify(
        path: *const c_char,
        n_members: *mut u32,
        err: *mut c_char,
        errcap: usize,
    ) -> qv_status;
    pub fn qv_snapshot_describe(
        path: *const c_char,
        out: *mut *mut qv_snapshot_info,
        err: *mut c_char,
        errcap: usize,
    ) -> qv_status;

    pub fn qv_file_replace_begin(
        path: *const c_char,
        out: *mut *mut qv_file_writer,
        err: *mut c_char,
        errcap: usize,
    ) -> qv_status;
    pub fn qv_file_replace_write(
        w: *mut qv_file_writer,
        data: *const c_void,
        len: usize,
    ) -> qv_status;
    pub fn qv_file_replace_commit(
        w: *mut qv_file_writer,
        err: *mut c_char,
        errcap: usize,
    ) -> qv_status;
    pub fn qv_file_replace_abort(w: *mut qv_file_writer);
    pub fn qv_file_remove_durable(
        path: *const c_char,
        err: *mut c_char,
        errcap: usize,
    ) -> qv_status;

    pub fn qv_store_open(out: *mut *mut qv_store) -> qv_status;
    pub fn qv_store_close(s: *mut qv_store);
    pub fn qv_store_errmsg(s: *const qv_store, buf: *mut c_char, cap: usize) -> usize;
    pub fn qv_store_create(
        s: *mut qv_store,
        name: *const c_char,
        cfg: *const qv_collection_config,
        out: *mut *mut qv_collection,
    ) -> qv_status;
    pub fn qv_store_ensure(
        s: *mut qv_store,
        name: *const c_char,
        cfg: *const qv_collection_config,
        out: *mut *mut qv_collection,
        created: *mut bool,
    ) -> qv_status;
    pub fn qv_store_get(
        s: *mut qv_store,
        name: *const c_char,
        out: *mut *mut qv_collection,
    ) -> qv_status;
    pub fn qv_store_drop(s: *mut qv_store, name: *const c_char) -> qv_status;
    pub fn qv_store_list(
        s: *mut qv_store,
        names_out: *mut *mut *mut c_char,
        count_out: *mut usize,
    ) -> qv_status;
    pub fn qv_store_total_points(s: *mut qv_store, out: *mut u64) -> qv_status;
    pub fn qv_free(ptr: *mut c_void);

    pub fn qv_group_begin(
        colls: *const *mut qv_collection,
        n: usize,
        out: *mut *mut qv_group,
    ) -> qv_status;
    pub fn qv_group_end(g: *mut qv_group) -> qv_status;

    pub fn qv_store_options_init(o: *mut qv_store_options);
    pub fn qv_store_open_dir(
        path: *const c_char,
        opts: *const qv_store_options,
        out: *mut *mut qv_store,
        err: *mut c_char,
        errcap: usize,
    ) -> qv_status;
    pub fn qv_store_checkpoint(s: *mut qv_store) -> qv_status;

    pub fn qv_facet(
        c: *mut qv_collection,
        key: *const c_char,
        filter: *const qv_filter,
        limit: usize,
        out: *mut *mut qv_facet_hit,
        n: *mut usize,
    ) -> qv_status;
}
