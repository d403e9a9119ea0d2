//! Collections: vectors under point ids, with payloads, search and snapshots.
//!
//! `Collection` owns one reference to a `qv_collection`.  Every method takes
//! `&self`: the library allows concurrent readers and writers on a
//! collection (its own lock serialises writers), so the type is
//! `Send + Sync`.  A failed call changes nothing (quiver.h, "Conventions")
//! and returns the status with the message the collection recorded.
//!
//! Slices are checked before they reach C: a flat batch of vectors must hold
//! a whole number of rows of the collection's dimension, and payload lists
//! must be as long as the id list, so no length the library trusts can be
//! wrong.  Buffers the library writes into (hits, ids) are allocated here at
//! the size the header promises to fill at most.
use crate::error::{Error, Result};
use crate::ffi;
use crate::filter::Filter;
use crate::id::PointId;
use crate::util::{c_path, c_string, check_handle, cstr, dim_u32, try_vec, with_err};
use std::os::raw::c_char;
use std::path::Path;
use std::ptr::{self, NonNull};

/// Qdrant's distances.  Cosine and dot scores are "higher is better",
/// euclid and manhattan scores are distances ("lower is better").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Cosine,
    Dot,
    Euclid,
    Manhattan,
}

impl Metric {
    fn to_raw(self) -> ffi::qv_metric {
        match self {
            Metric::Cosine => ffi::QV_METRIC_COSINE,
            Metric::Dot => ffi::QV_METRIC_DOT,
            Metric::Euclid => ffi::QV_METRIC_EUCLID,
            Metric::Manhattan => ffi::QV_METRIC_MANHATTAN,
        }
    }
    fn from_raw(m: ffi::qv_metric) -> Metric {
        match m {
            ffi::QV_METRIC_DOT => Metric::Dot,
            ffi::QV_METRIC_EUCLID => Metric::Euclid,
            ffi::QV_METRIC_MANHATTAN => Metric::Manhattan,
            _ => Metric::Cosine,
        }
    }
}

/// A collection's configuration.  `CollectionConfig::new(dim)` has the
/// library's defaults for the rest; out-of-range values are refused with
/// `Error::Range` when the collection is created, never clamped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CollectionConfig {
    pub dim: u32,
    pub metric: Metric,
    pub hnsw_m: u32,
    pub hnsw_ef_construct: u32,
    pub full_scan_threshold_kb: u32,
    pub hnsw_seed: u64,
    pub max_indexing_threads: u32,
}

impl CollectionConfig {
    /// `dim` dimensions, cosine, the library's HNSW defaults.
    pub fn new(dim: u32) -> CollectionConfig {
        let mut cfg = CollectionConfig::from_raw(&default_raw_config());
        cfg.dim = dim;
        cfg
    }

    /// The same configuration under another metric.
    pub fn metric(mut self, metric: Metric) -> CollectionConfig {
        self.metric = metric;
        self
    }

    /// Starts from the library's defaults, so that a field a later header
    /// adds (and ffi.rs declares) keeps its default here.
    pub(crate) fn to_raw(self) -> ffi::qv_collection_config {
        let mut raw = default_raw_config();
        raw.dim = self.dim;
        raw.metric = self.metric.to_raw();
        raw.hnsw_m = self.hnsw_m;
        raw.hnsw_ef_construct = self.hnsw_ef_construct;
        raw.full_scan_threshold_kb = self.full_scan_threshold_kb;
        raw.hnsw_seed = self.hnsw_seed;
        raw.max_indexing_threads = self.max_indexing_threads;
        raw
    }

    pub(crate) fn from_raw(raw: &ffi::qv_collection_config) -> CollectionConfig {
        CollectionConfig {
            dim: raw.dim,
            metric: Metric::from_raw(raw.metric),
            hnsw_m: raw.hnsw_m,
            hnsw_ef_construct: raw.hnsw_ef_construct,
            full_scan_threshold_kb: raw.full_scan_threshold_kb,
            hnsw_seed: raw.hnsw_seed,
            max_indexing_threads: raw.max_indexing_threads,
        }
    }
}

/// The library's defaults (qv_collection_config_init).  Filled by the
/// library rather than copied from the header, so they stay the library's;
/// check_ffi.py keeps the struct's layout equal to the header's, so the
/// library writes exactly this struct.
fn default_raw_config() -> ffi::qv_collection_config {
    let mut raw = std::mem::MaybeUninit::<ffi::qv_collection_config>::zeroed();
    // SAFETY: raw points to a qv_collection_config, which init fills.
    unsafe {
        ffi::qv_collection_config_init(raw.as_mut_ptr());
        raw.assume_init()
    }
}

/// Qdrant's payload index kinds (field schemas).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKind {
    Keyword,
    Integer,
    Float,
    Bool,
    Datetime,
    Uuid,
    Text,
    Geo,
}

impl IndexKind {
    fn to_raw(self) -> ffi::qv_index_kind {
        match self {
            IndexKind::Keyword => ffi::QV_INDEX_KEYWORD,
            IndexKind::Integer => ffi::QV_INDEX_INTEGER,
            IndexKind::Float => ffi::QV_INDEX_FLOAT,
            IndexKind::Bool => ffi::QV_INDEX_BOOL,
            IndexKind::Datetime => ffi::QV_INDEX_DATETIME,
            IndexKind::Uuid => ffi::QV_INDEX_UUID,
            IndexKind::Text => ffi::QV_INDEX_TEXT,
            IndexKind::Geo => ffi::QV_INDEX_GEO,
        }
    }
}

/// How to search: `SearchParams::new(k)` then the builder methods.  Borrows
/// its filter for as long as it lives.
#[derive(Clone, Copy, Debug)]
pub struct SearchParams<'f> {
    pub k: u32,
    pub score_threshold: Option<f32>,
    /// HNSW beam width; 0 for the default, max(k, 128).
    pub hnsw_ef: u32,
    /// Scan every point rather than walk the graph.
    pub exact: bool,
    pub filter: Option<&'f Filter>,
}

impl<'f> SearchParams<'f> {
    pub fn new(k: u32) -> SearchParams<'f> {
        SearchParams {
            k,
            score_threshold: None,
            hnsw_ef: 0,
            exact: false,
            filter: None,
        }
    }
    pub fn filter(mut self, filter: &'f Filter) -> SearchParams<'f> {
        self.filter = Some(filter);
        self
    }
    pub fn exact(mut self, exact: bool) -> SearchParams<'f> {
        self.exact = exact;
        self
    }
    pub fn hnsw_ef(mut self, ef: u32) -> SearchParams<'f> {
        self.hnsw_ef = ef;
        self
    }
    pub fn score_threshold(mut self, threshold: f32) -> SearchParams<'f> {
        self.score_threshold = Some(threshold);
        self
    }

    /// Starts from qv_search_params_init, as the config does.
    fn to_raw(self) -> ffi::qv_search_params {
        let mut raw = std::mem::MaybeUninit::<ffi::qv_search_params>::zeroed();
        // SAFETY: raw points to a qv_search_params, which init fills.
        let mut raw = unsafe {
            ffi::qv_search_params_init(raw.as_mut_ptr());
            raw.assume_init()
        };
        raw.k = self.k;
        raw.use_threshold = self.score_threshold.is_some();
        raw.score_threshold = self.score_threshold.unwrap_or(0.0);
        raw.hnsw_ef = self.hnsw_ef;
        raw.exact = self.exact;
        raw.filter = self.filter.map_or(ptr::null(), Filter::as_ptr);
        raw
    }

    /// Hits the library may write per query: k, except that a k the library
    /// will refuse (0 or above QV_MAX_K) gets a one-hit buffer, since the
    /// refusal comes before any hit is written.
    fn room(&self) -> usize {
        if self.k == 0 || self.k > ffi::QV_MAX_K {
            1
        } else {
            self.k as usize
        }
    }
}

/// One search result, best first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub id: PointId,
    pub score: f32,
}

/// A payload value a facet counts (Qdrant's FacetValue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FacetValue {
    /// From a keyword or uuid index (a UUID in lowercase hyphenated form).
    Str(String),
    /// From an integer index.
    Int(i64),
    /// An integer above i64::MAX.
    UInt(u64),
    Bool(bool),
}

impl FacetValue {
    fn from_raw(h: &ffi::qv_facet_hit) -> FacetValue {
        match h.kind {
            ffi::QV_FACET_STRING => {
                // SAFETY: str holds len bytes in the result's allocation.
                let bytes = unsafe { std::slice::from_raw_parts(h.str as *const u8, h.len) };
                FacetValue::Str(String::from_utf8_lossy(bytes).into_owned())
            }
            // SAFETY: the library writes the union member kind names.
            ffi::QV_FACET_NUMBER => unsafe {
                if h.num.kind == ffi::QV_NUM_UINT {
                    FacetValue::UInt(h.num.v.u)
                } else {
                    FacetValue::Int(h.num.v.i)
                }
            },
            _ => FacetValue::Bool(h.boolean),
        }
    }
}

/// One page of a scroll: ids in order and where the next page starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub ids: Vec<PointId>,
    pub next: Option<PointId>,
}

pub struct Collection {
    raw: NonNull<ffi::qv_collection>,
}

// SAFETY: quiver.h, "Thread safety": a collection allows any number of
// concurrent readers alongside writers, writers serialised by its own lock;
// handles are reference counted and retain/release are thread-safe.
unsafe impl Send for Collection {}
unsafe impl Sync for Collection {}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Collection({:p})", self.raw.as_ptr())
    }
}

impl Clone for Collection {
    /// Another reference to the same collection.
    fn clone(&self) -> Collection {
        // SAFETY: self holds a reference, so the collection is alive.
        unsafe { ffi::qv_collection_retain(self.raw.as_ptr()) };
        Collection { raw: self.raw }
    }
}

impl Drop for Collection {
    fn drop(&mut self) {
        // SAFETY: drops the one reference this value owns.
        unsafe { ffi::qv_collection_release(self.raw.as_ptr()) }
    }
}

fn ids_raw(ids: &[PointId]) -> Vec<ffi::qv_point_id> {
    ids.iter().map(|id| id.to_raw()).collect()
}

impl Collection {
    /// Takes ownership of one reference the library handed out.
    pub(crate) fn from_owned(raw: *mut ffi::qv_collection) -> Collection {
        Collection {
            raw: NonNull::new(raw).expect("the library returned no collection"),
        }
    }

    fn ptr(&self) -> *mut ffi::qv_collection {
        self.raw.as_ptr()
    }

    /// QV_OK, or the status with the message the collection recorded.
    fn check(&self, status: ffi::qv_status) -> Result<()> {
        // SAFETY: buf has cap bytes.
        check_handle(status, |buf, cap| unsafe {
            ffi::qv_collection_errmsg(self.ptr(), buf, cap)
        })
    }

    /// A new collection of its own (not in a store).
    pub fn new(config: CollectionConfig) -> Result<Collection> {
        let raw = config.to_raw();
        let mut out = ptr::null_mut();
        // SAFETY: raw is a valid config; out receives one reference.
        let st = unsafe { ffi::qv_collection_create(&raw, &mut out) };
        if st != ffi::QV_OK {
            return Err(Error::new(st, ""));
        }
        Ok(Collection::from_owned(out))
    }

    pub fn config(&self) -> Result<CollectionConfig> {
        let mut raw = std::mem::MaybeUninit::<ffi::qv_collection_config>::zeroed();
        // SAFETY: raw has room for the config (layout checked by check_ffi.py).
        self.check(unsafe { ffi::qv_collection_get_config(self.ptr(), raw.as_mut_ptr()) })?;
        // SAFETY: filled by the successful call.
        Ok(CollectionConfig::from_raw(&unsafe { raw.assume_init() }))
    }

    /// Inserts the point, or replaces its vector (its payload stays).
    pub fn upsert(&self, id: PointId, vector: &[f32]) -> Result<()> {
        let raw = id.to_raw();
        let dim = dim_u32(vector.len())?;
        // SAFETY: vector has dim floats.
        self.check(unsafe { ffi::qv_upsert(self.ptr(), &raw, vector.as_ptr(), dim) })
    }

    /// Upserts `ids.len()` points whose vectors lie one after another in
    /// `vectors`; all or nothing.
    pub fn upsert_batch(&self, ids: &[PointId], vectors: &[f32]) -> Result<()> {
        let dim = self.batch_dim(ids.len(), vectors.len())?;
        let raw = ids_raw(ids);
        // SAFETY: vectors holds ids.len() rows of dim floats.
        self.check(unsafe {
            ffi::qv_upsert_batch(self.ptr(), raw.as_ptr(), vectors.as_ptr(), raw.len(), dim)
        })
    }

    /// Upserts points with payloads (JSON objects; None for `{}`), replacing
    /// any payload they had; all or nothing.
    pub fn upsert_with_payloads(
        &self,
        ids: &[PointId],
        vectors: &[f32],
        payloads: &[Option<&str>],
    ) -> Result<()> {
        if payloads.len() != ids.len() {
            return Err(Error::Invalid(format!(
                "{} payloads for {} ids",
                payloads.len(),
                ids.len()
            )));
        }
        let dim = self.batch_dim(ids.len(), vectors.len())?;
        let raw = ids_raw(ids);
        let ptrs: Vec<*const c_char> = payloads
            .iter()
            .map(|p| p.map_or(ptr::null(), |s| s.as_ptr() as *const c_char))
            .collect();
        let lens: Vec<usize> = payloads.iter().map(|p| p.map_or(0, str::len)).collect();
        // SAFETY: every array has ids.len() entries; payload i is lens[i] bytes.
        self.check(unsafe {
            ffi::qv_upsert_with_payloads(
                self.ptr(),
                raw.as_ptr(),
                vectors.as_ptr(),
                raw.len(),
                dim,
                ptrs.as_ptr(),
                lens.as_ptr(),
            )
        })
    }

    /// The dimension of a flat batch of `n` rows in `len` floats.
    fn batch_dim(&self, n: usize, len: usize) -> Result<u32> {
        if n == 0 {
            return Ok(self.config()?.dim);
        }
        if len % n != 0 {
            return Err(Error::Dim(format!(
                "{} floats do not split into {} vectors",
                len, n
            )));
        }
        dim_u32(len / n)
    }

    /// The stored vector (normalised under cosine).
    pub fn get(&self, id: PointId) -> Result<Vec<f32>> {
        let dim = self.config()?.dim;
        let mut out = vec![0f32; dim as usize];
        let raw = id.to_raw();
        // SAFETY: out has dim floats.
        self.check(unsafe { ffi::qv_get(self.ptr(), &raw, out.as_mut_ptr(), dim) })?;
        Ok(out)
    }

    pub fn contains(&self, id: PointId) -> Result<bool> {
        let raw = id.to_raw();
        let mut out = false;
        // SAFETY: plain out-parameter.
        self.check(unsafe { ffi::qv_contains(self.ptr(), &raw, &mut out) })?;
        Ok(out)
    }

    /// Deletes one point; `NotFound` if it is absent.
    pub fn delete(&self, id: PointId) -> Result<()> {
        let raw = id.to_raw();
        // SAFETY: raw is a valid id.
        self.check(unsafe { ffi::qv_delete(self.ptr(), &raw) })
    }

    /// Deletes the points of `ids` that exist; returns how many.
    pub fn delete_batch(&self, ids: &[PointId]) -> Result<u64> {
        let raw = ids_raw(ids);
        let mut deleted = 0u64;
        // SAFETY: raw has raw.len() ids.
        self.check(unsafe {
            ffi::qv_delete_batch(self.ptr(), raw.as_ptr(), raw.len(), &mut deleted)
        })?;
        Ok(deleted)
    }

    /// Deletes every point matching `filter`; returns how many.
    pub fn delete_filter(&self, filter: &Filter) -> Result<u64> {
        let mut deleted = 0u64;
        // SAFETY: filter is alive for the call.
        self.check(unsafe { ffi::qv_delete_filter(self.ptr(), filter.as_ptr(), &mut deleted) })?;
        Ok(deleted)
    }

    pub fn count(&self) -> Result<u64> {
        let mut n = 0u64;
        // SAFETY: plain out-parameter.
        self.check(unsafe { ffi::qv_count(self.ptr(), &mut n) })?;
        Ok(n)
    }

    /// The points matching `filter`, counted exactly.
    pub fn count_filter(&self, filter: &Filter) -> Result<u64> {
        let mut n = 0u64;
        // SAFETY: filter is alive for the call.
        self.check(unsafe { ffi::qv_count_filter(self.ptr(), filter.as_ptr(), &mut n) })?;
        Ok(n)
    }

    /// Up to `limit` ids in id order from `start` (inclusive), matching
    /// `filter`, and where the next page starts.  A page is at most as long
    /// as the collection was when the call began.
    pub fn scroll(
        &self,
        start: Option<PointId>,
        filter: Option<&Filter>,
        limit: usize,
    ) -> Result<Page> {
        let start_raw = start.map(PointId::to_raw);
        // A page is never longer than the collection: points added meanwhile
        // come in the next page (has_next), so a huge limit costs nothing.
        let room = limit
            .min(self.count()?.try_into().unwrap_or(usize::MAX))
            .max(1);
        let mut ids = try_vec(room, PointId::Num(0).to_raw())?;
        let mut n = 0usize;
        let mut next = PointId::Num(0).to_raw();
        let mut has_next = false;
        // SAFETY: ids has room for the limit passed (limit 0 is refused
        // before anything is written).
        self.check(unsafe {
            ffi::qv_scroll(
                self.ptr(),
                start_raw.as_ref().map_or(ptr::null(), |r| r as *const _),
                filter.map_or(ptr::null(), Filter::as_ptr),
                if limit == 0 { 0 } else { room },
                ids.as_mut_ptr(),
                &mut n,
                &mut next,
                &mut has_next,
            )
        })?;
        Ok(Page {
            ids: ids[..n].iter().map(PointId::from_raw).collect(),
            next: if has_next {
                Some(PointId::from_raw(&next))
            } else {
                None
            },
        })
    }

    /// The point's payload as compact JSON text.
    pub fn payload(&self, id: PointId) -> Result<String> {
        let raw = id.to_raw();
        let mut json: *mut c_char = ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: on success json is an allocation we free with qv_free.
        self.check(unsafe {
            ffi::qv_payload_get(self.ptr(), &raw, ptr::null(), &mut json, &mut len)
        })?;
        // SAFETY: json holds len bytes (compact JSON, UTF-8).
        let bytes = unsafe { std::slice::from_raw_parts(json as *const u8, len) };
        let text = String::from_utf8_lossy(bytes).into_owned();
        // SAFETY: allocated by the library for us.
        unsafe { ffi::qv_free(json as *mut _) };
        Ok(text)
    }

    /// Replaces the point's whole payload (Qdrant's overwrite_payload).
    pub fn set_payload(&self, id: PointId, json: &str) -> Result<()> {
        let raw = id.to_raw();
        // SAFETY: json is len bytes.
        self.check(unsafe {
            ffi::qv_payload_overwrite(self.ptr(), &raw, json.as_ptr() as *const _, json.len())
        })
    }

    /// Merges the object `json` into the payload (Qdrant's set_payload),
    /// inside the object at `key` if given.
    pub fn merge_payload(&self, id: PointId, json: &str, key: Option<&str>) -> Result<()> {
        let raw = id.to_raw();
        let key = key.map(|k| c_string(k, "key")).transpose()?;
        // SAFETY: json is len bytes; key is NUL-terminated or NULL.
        self.check(unsafe {
            ffi::qv_payload_set(
                self.ptr(),
                &raw,
                json.as_ptr() as *const _,
                json.len(),
                key.as_ref().map_or(ptr::null(), |k| k.as_ptr()),
            )
        })
    }

    /// Removes key paths from the payload (absent keys are no error).
    pub fn delete_payload_keys(&self, id: PointId, keys: &[&str]) -> Result<()> {
        let raw = id.to_raw();
        let owned = keys
            .iter()
            .map(|k| c_string(k, "key"))
            .collect::<Result<Vec<_>>>()?;
        let ptrs: Vec<*const c_char> = owned.iter().map(|k| k.as_ptr()).collect();
        // SAFETY: ptrs has keys.len() NUL-terminated strings.
        self.check(unsafe {
            ffi::qv_payload_delete_keys(self.ptr(), &raw, ptrs.as_ptr(), ptrs.len())
        })
    }

    pub fn clear_payload(&self, id: PointId) -> Result<()> {
        let raw = id.to_raw();
        // SAFETY: raw is a valid id.
        self.check(unsafe { ffi::qv_payload_clear(self.ptr(), &raw) })
    }

    /// Creates (or keeps) a payload index of `kind` on `key`.
    pub fn create_index(&self, key: &str, kind: IndexKind) -> Result<()> {
        let k = c_string(key, "key")?;
        // SAFETY: k is NUL-terminated.
        self.check(unsafe { ffi::qv_payload_index_create(self.ptr(), k.as_ptr(), kind.to_raw()) })
    }

    pub fn drop_index(&self, key: &str) -> Result<()> {
        let k = c_string(key, "key")?;
        // SAFETY: k is NUL-terminated.
        self.check(unsafe { ffi::qv_payload_index_drop(self.ptr(), k.as_ptr()) })
    }

    /// The indexed keys with their kind names ("keyword", ...), in creation
    /// order.
    pub fn indexes(&self) -> Result<Vec<(String, String)>> {
        let mut list: *mut ffi::qv_payload_index_info = ptr::null_mut();
        let mut n = 0usize;
        // SAFETY: on success list is one allocation of n entries.
        self.check(unsafe { ffi::qv_payload_index_list(self.ptr(), &mut list, &mut n) })?;
        // SAFETY: as above; the keys live in the same allocation.
        let out = unsafe { std::slice::from_raw_parts(list, n) }
            .iter()
            // SAFETY: qv_index_kind_name returns a static string.
            .map(|i| {
                (
                    cstr(i.key),
                    cstr(unsafe { ffi::qv_index_kind_name(i.kind) }),
                )
            })
            .collect();
        // SAFETY: allocated by the library for us; nothing borrows it now.
        unsafe { ffi::qv_free(list as *mut _) };
        Ok(out)
    }

    /// Qdrant's facet: the `limit` values of the indexed `key` held by the
    /// most points matching `filter`, with their exact counts, largest
    /// first.  The key needs a keyword, integer, uuid or bool index.
    pub fn facet(
        &self,
        key: &str,
        filter: Option<&Filter>,
        limit: usize,
    ) -> Result<Vec<(FacetValue, u64)>> {
        let k = c_string(key, "key")?;
        let mut list: *mut ffi::qv_facet_hit = ptr::null_mut();
        let mut n = 0usize;
        // SAFETY: on success list is one allocation of n hits.
        self.check(unsafe {
            ffi::qv_facet(
                self.ptr(),
                k.as_ptr(),
                filter.map_or(ptr::null(), Filter::as_ptr),
                limit,
                &mut list,
                &mut n,
            )
        })?;
        // SAFETY: as above; strings live in the same allocation.
        let out = unsafe { std::slice::from_raw_parts(list, n) }
            .iter()
            .map(|h| (FacetValue::from_raw(h), h.count))
            .collect();
        // SAFETY: allocated by the library for us; nothing borrows it now.
        unsafe { ffi::qv_free(list as *mut _) };
        Ok(out)
    }

    /// The best `params.k` points for `query`, best first.
    pub fn search(&self, query: &[f32], params: &SearchParams) -> Result<Vec<Hit>> {
        let dim = dim_u32(query.len())?;
        let raw = params.to_raw();
        let mut hits = try_vec(params.room(), zero_hit())?;
        let mut n = 0usize;
        // SAFETY: hits has room for k hits; query has dim floats.
        self.check(unsafe {
            ffi::qv_search(
                self.ptr(),
                query.as_ptr(),
                dim,
                &raw,
                hits.as_mut_ptr(),
                &mut n,
            )
        })?;
        Ok(hits[..n].iter().map(hit_from_raw).collect())
    }

    /// Searches `queries.len() / dim` queries at once (row-major); result i
    /// holds query i's hits.  `Dim` if the floats do not split into rows of
    /// the collection's dimension.
    pub fn search_batch(&self, queries: &[f32], params: &SearchParams) -> Result<Vec<Vec<Hit>>> {
        let dim = self.config()?.dim as usize;
        if queries.len() % dim != 0 {
            return Err(Error::Dim(format!(
                "{} floats are not a whole number of {}-component queries",
                queries.len(),
                dim
            )));
        }
        let nq = queries.len() / dim;
        let room = params.room();
        let total = nq
            .checked_mul(room)
            .ok_or_else(|| Error::Range(format!("{} queries of k {} are too many", nq, room)))?;
        let raw = params.to_raw();
        let mut hits = try_vec(total.max(1), zero_hit())?;
        let mut counts = try_vec(nq.max(1), 0usize)?;
        // SAFETY: hits has nq*k entries, counts nq; queries nq*dim floats.
        self.check(unsafe {
            ffi::qv_search_batch(
                self.ptr(),
                queries.as_ptr(),
                nq,
                dim as u32,
                &raw,
                hits.as_mut_ptr(),
                counts.as_mut_ptr(),
            )
        })?;
        Ok((0..nq)
            .map(|i| {
                hits[i * room..i * room + counts[i]]
                    .iter()
                    .map(hit_from_raw)
                    .collect()
            })
            .collect())
    }

    /// Writes the collection to a snapshot file, crash-safely.
    pub fn save_snapshot(&self, path: &Path) -> Result<()> {
        let p = c_path(path)?;
        // SAFETY: p is NUL-terminated.
        self.check(unsafe { ffi::qv_snapshot_save(self.ptr(), p.as_ptr()) })
    }

    /// Opens a snapshot file as a new collection (mapped, not read); with
    /// `verify`, every checksum, payload and link is checked first.
    pub fn open_snapshot(path: &Path, verify: bool) -> Result<Collection> {
        let p = c_path(path)?;
        let flags = if verify { ffi::QV_SNAPSHOT_VERIFY } else { 0 };
        let mut out = ptr::null_mut();
        // SAFETY: p is NUL-terminated; out receives one reference.
        with_err(|err, cap| unsafe {
            ffi::qv_snapshot_open(p.as_ptr(), flags, &mut out, err, cap)
        })?;
        Ok(Collection::from_owned(out))
    }

    /// Checks a snapshot file in full without keeping it.
    pub fn verify_snapshot(path: &Path) -> Result<()> {
        let p = c_path(path)?;
        // SAFETY: p is NUL-terminated.
        with_err(|err, cap| unsafe { ffi::qv_snapshot_verify(p.as_ptr(), err, cap) })
    }

    /// Reads a toy store's JSON file (a point list, LangChain's or
    /// LlamaIndex's dump) into a new collection; dim 0 takes the dimension
    /// from the first vector.
    pub fn import_json(path: &Path, config: CollectionConfig) -> Result<Collection> {
        let p = c_path(path)?;
        let raw = config.to_raw();
        let mut out = ptr::null_mut();
        // SAFETY: p is NUL-terminated; out receives one reference.
        with_err(|err, cap| unsafe { ffi::qv_json_import(p.as_ptr(), &raw, &mut out, err, cap) })?;
        Ok(Collection::from_owned(out))
    }

    /// Writes every point as a JSON point list.
    pub fn export_json(&self, path: &Path) -> Result<()> {
        let p = c_path(path)?;
        // SAFETY: p is NUL-terminated.
        with_err(|err, cap| unsafe {
            ffi::qv_json_export(self.ptr(), p.as_ptr(), ffi::QV_JSON_POINTS, err, cap)
        })
    }
}

fn zero_hit() -> ffi::qv_hit {
    ffi::qv_hit {
        id: PointId::Num(0).to_raw(),
        score: 0.0,
    }
}

fn hit_from_raw(h: &ffi::qv_hit) -> Hit {
    Hit {
        id: PointId::from_raw(&h.id),
        score: h.score,
    }
}
