//! Stores: named collections, in memory or durable in a directory.
use crate::collection::{Collection, CollectionConfig};
use crate::error::{Error, Result};
use crate::ffi;
use crate::util::{c_path, c_string, check_handle, cstr, with_err};
use std::path::Path;
use std::ptr::{self, NonNull};

/// A store of named collections.  `Store::new()` keeps them in memory;
/// `Store::open_dir(path)` keeps them in a directory with a write-ahead log,
/// every write durable before it returns, recovered after a crash.
///
/// Collections handed out hold their own reference: they stay usable after
/// the store is dropped (a durable store's then refuse writes with
/// `NotFound`, as quiver.h says).
pub struct Store {
    raw: NonNull<ffi::qv_store>,
}

// SAFETY: quiver.h: "A store's functions may be called from any thread
// concurrently."  The one exception, qv_store_close, runs in Drop, when no
// borrow of the store is left.
unsafe impl Send for Store {}
unsafe impl Sync for Store {}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({:p})", self.raw.as_ptr())
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // SAFETY: nothing else uses the store (we are being dropped).
        unsafe { ffi::qv_store_close(self.raw.as_ptr()) }
    }
}

impl Store {
    /// An empty in-memory store.
    pub fn new() -> Result<Store> {
        let mut out = ptr::null_mut();
        // SAFETY: out receives the store.
        let st = unsafe { ffi::qv_store_open(&mut out) };
        if st != ffi::QV_OK {
            return Err(Error::new(st, ""));
        }
        Ok(Store {
            raw: NonNull::new(out).expect("qv_store_open gave no store"),
        })
    }

    /// Opens (creating it if needed) the durable store in directory `path`,
    /// recovering every collection in it.
    pub fn open_dir(path: &Path) -> Result<Store> {
        let p = c_path(path)?;
        let mut out = ptr::null_mut();
        // SAFETY: p is NUL-terminated; NULL options are the defaults.
        with_err(|err, cap| unsafe {
            ffi::qv_store_open_dir(p.as_ptr(), ptr::null(), &mut out, err, cap)
        })?;
        Ok(Store {
            raw: NonNull::new(out).expect("qv_store_open_dir gave no store"),
        })
    }

    fn ptr(&self) -> *mut ffi::qv_store {
        self.raw.as_ptr()
    }

    /// QV_OK, or the status with the message the store recorded.
    fn check(&self, status: ffi::qv_status) -> Result<()> {
        // SAFETY: buf has cap bytes.
        check_handle(status, |buf, cap| unsafe {
            ffi::qv_store_errmsg(self.ptr(), buf, cap)
        })
    }

    /// Creates collection `name`; `Exists` if the name is taken.
    pub fn create(&self, name: &str, config: CollectionConfig) -> Result<Collection> {
        let n = c_string(name, "collection name")?;
        let raw = config.to_raw();
        let mut out = ptr::null_mut();
        // SAFETY: out receives one reference.
        self.check(unsafe { ffi::qv_store_create(self.ptr(), n.as_ptr(), &raw, &mut out) })?;
        Ok(Collection::from_owned(out))
    }

    /// The collection `name`, created if absent; `Exists` if it exists with
    /// another config.  The flag says whether it was created.
    pub fn ensure(&self, name: &str, config: CollectionConfig) -> Result<(Collection, bool)> {
        let n = c_string(name, "collection name")?;
        let raw = config.to_raw();
        let mut out = ptr::null_mut();
        let mut created = false;
        // SAFETY: out receives one reference.
        self.check(unsafe {
            ffi::qv_store_ensure(self.ptr(), n.as_ptr(), &raw, &mut out, &mut created)
        })?;
        Ok((Collection::from_owned(out), created))
    }

    /// The collection `name`; `NotFound` if there is none.
    pub fn get(&self, name: &str) -> Result<Collection> {
        let n = c_string(name, "collection name")?;
        let mut out = ptr::null_mut();
        // SAFETY: out receives one reference.
        self.check(unsafe { ffi::qv_store_get(self.ptr(), n.as_ptr(), &mut out) })?;
        Ok(Collection::from_owned(out))
    }

    /// Removes collection `name` from the store.
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        let n = c_string(name, "collection name")?;
        // SAFETY: n is NUL-terminated.
        self.check(unsafe { ffi::qv_store_drop(self.ptr(), n.as_ptr()) })
    }

    /// The collection names, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut names: *mut *mut std::os::raw::c_char = ptr::null_mut();
        let mut n = 0usize;
        // SAFETY: on success names is one allocation of n strings.
        self.check(unsafe { ffi::qv_store_list(self.ptr(), &mut names, &mut n) })?;
        // SAFETY: as above.
        let out = unsafe { std::slice::from_raw_parts(names, n) }
            .iter()
            .map(|&p| cstr(p))
            .collect();
        // SAFETY: allocated by the library for us.
        unsafe { ffi::qv_free(names as *mut _) };
        Ok(out)
    }

    /// The points of all collections.
    pub fn total_points(&self) -> Result<u64> {
        let mut n = 0u64;
        // SAFETY: plain out-parameter.
        self.check(unsafe { ffi::qv_store_total_points(self.ptr(), &mut n) })?;
        Ok(n)
    }

    /// Snapshots every collection of a durable store and trims its log (a
    /// no-op in memory).
    pub fn checkpoint(&self) -> Result<()> {
        // SAFETY: the store is alive.
        self.check(unsafe { ffi::qv_store_checkpoint(self.ptr()) })
    }
}
