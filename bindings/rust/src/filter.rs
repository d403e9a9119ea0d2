//! Filters: Qdrant's filter JSON, compiled once by the library.
use crate::error::Result;
use crate::ffi;
use crate::util::with_err;
use std::ptr::NonNull;

/// A compiled Qdrant filter (must / should / must_not / min_should with
/// match, range, has_id, is_empty, is_null, values_count, nested and geo
/// conditions).  Immutable once parsed, so any number of threads may search
/// with one filter at once.
pub struct Filter {
    raw: NonNull<ffi::qv_filter>,
}

// SAFETY: quiver.h: "Immutable once parsed: any number of threads may use one
// filter at once"; qv_filter_free may run on any thread once no one uses it,
// which Drop guarantees.
unsafe impl Send for Filter {}
unsafe impl Sync for Filter {}

impl Filter {
    /// Compiles a Filter object's JSON text.  A malformed filter is an
    /// `Invalid` (or `Range`) error naming the offending part, e.g.
    /// "must[2].range: needs at least one of gt, gte, lt, lte".
    pub fn from_json(json: &str) -> Result<Filter> {
        let mut out: *mut ffi::qv_filter = std::ptr::null_mut();
        with_err(|err, cap| {
            // SAFETY: json is len bytes; out receives the filter.
            unsafe {
                ffi::qv_filter_parse(json.as_ptr() as *const _, json.len(), &mut out, err, cap)
            }
        })?;
        Ok(Filter {
            raw: NonNull::new(out).expect("qv_filter_parse succeeded without a filter"),
        })
    }

    pub(crate) fn as_ptr(&self) -> *const ffi::qv_filter {
        self.raw.as_ptr()
    }
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Filter")
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        // SAFETY: we own the filter and nothing borrows it any more.
        unsafe { ffi::qv_filter_free(self.raw.as_ptr()) }
    }
}
