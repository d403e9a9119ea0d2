//! Quiver for Rust: safe bindings to libquiver, an in-process vector search
//! engine with Qdrant's ids, scores, payloads and filters.
//!
//! The crate has no dependencies: [`ffi`] declares the C API of
//! include/quiver.h by hand (checked against the header by
//! bindings/check_ffi.py, ctest `bindings_ffi_drift`), and the modules above
//! it wrap each handle in an owning type:
//!
//! - [`Collection`]: one reference to a `qv_collection` (clone = retain,
//!   drop = release).  The header lets any number of threads read and write
//!   a collection at once (the library serialises writers itself), and the
//!   handle is reference counted, so it is `Send + Sync` and every method
//!   takes `&self`.
//! - [`Store`]: named collections, in memory ([`Store::new`]) or durable
//!   ([`Store::open_dir`]).  "A store's functions may be called from any
//!   thread concurrently", except `qv_store_close`, which no other call may
//!   overlap or follow: close happens in `Drop`, which Rust runs only once
//!   nothing borrows the store, so `Store` is `Send + Sync` as well.
//!   Collections taken from a store hold their own reference and outlive it.
//! - [`Filter`]: a compiled Qdrant filter, immutable, shared freely
//!   (`Send + Sync`); [`SearchParams`] borrows one for a search.
//! - [`PointId`]: Qdrant's ids, `u64` or UUID, exact over the whole `u64`
//!   range (no detour through `f64`).
//! - Errors: [`Error`], one variant per `qv_status`, each with the library's
//!   message for the failure ("vector has 3 components, the collection
//!   expects 4").
//!
//! Payloads cross the boundary as JSON text, exactly as the library stores
//! them (integers in i64/u64 range exact, doubles as their shortest
//! round-trip text), so a `serde_json::Value` goes in through its `Display`
//! and comes out through `serde_json::from_str` without losing a bit.
//!
//! [`vector_store::QuiverVectorStore`] has the shape of the toy
//! `InMemoryVectorStore` of Rust RAG frameworks (`new`, `load`, `save`,
//! `ensure_collection`, `index`, `search`, `delete_by_entity`), so an
//! application swaps one type name.
//!
//! Linking: build.rs takes libquiver.so from `QUIVER_LIB_DIR`, else from
//! pkg-config's `quiver` module, and records the directory as run path.

pub mod ffi;

mod collection;
mod error;
mod filter;
mod id;
mod store;
mod util;
pub mod vector_store;

pub use collection::{
    Collection, CollectionConfig, FacetValue, Hit, IndexKind, Metric, Page, SearchParams,
};
pub use error::{Error, Result, Status};
pub use filter::Filter;
pub use id::PointId;
pub use store::Store;
pub use util::block_on;

/// The library's version and the SIMD kernels it chose on this CPU, as
/// `(version, simd_level)`.
pub fn build_info() -> (String, String) {
    let mut info = std::mem::MaybeUninit::<ffi::qv_build_info>::uninit();
    // SAFETY: qv_build_info_get fills every field with static strings.
    let info = unsafe {
        ffi::qv_build_info_get(info.as_mut_ptr());
        info.assume_init()
    };
    (util::cstr(info.version), util::cstr(info.simd_level))
}
