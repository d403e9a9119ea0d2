//! Errors: one variant per `qv_status`, each carrying the library's message.
//!
//! The message is the detailed one the handle recorded for the failure
//! (`qv_collection_errmsg`, `qv_store_errmsg`) or the `err` buffer of calls
//! that have one; when neither has anything to say it is the status's fixed
//! sentence (`qv_strerror`).  As the header warns, with several threads
//! failing on one handle at once the message may belong to another thread's
//! failure; the variant is always the caller's own.
use crate::ffi;
use crate::util::cstr;
use std::fmt;

/// The library's status codes (`QV_E*`), without `QV_OK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Null,
    Invalid,
    Range,
    Dim,
    NonFinite,
    NotFound,
    Exists,
    NoMem,
    Io,
    Corrupt,
    Format,
    Internal,
}

/// A failed call: which status, and the library's message for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// QV_ENULL: a required pointer argument was NULL.
    Null(String),
    /// QV_EINVAL: a malformed argument (name, id, JSON, filter, ...).
    Invalid(String),
    /// QV_ERANGE: a number outside its allowed range.
    Range(String),
    /// QV_EDIM: a vector's length differs from the collection's.
    Dim(String),
    /// QV_ENONFINITE: a vector component is NaN or infinite.
    NonFinite(String),
    /// QV_ENOTFOUND: no point or collection with that id or name.
    NotFound(String),
    /// QV_EEXIST: a collection with that name exists already.
    Exists(String),
    /// QV_ENOMEM: an allocation failed.
    NoMem(String),
    /// QV_EIO: a read, write, fsync or rename failed.
    Io(String),
    /// QV_ECORRUPT: a file failed its checks.
    Corrupt(String),
    /// QV_EFORMAT: a file of an unsupported type or version.
    Format(String),
    /// QV_EINTERNAL: a broken invariant inside Quiver (a bug).
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `status` with `message` (the status's sentence if empty).
    pub fn new(status: ffi::qv_status, message: &str) -> Error {
        let msg = if message.is_empty() {
            // SAFETY: qv_strerror returns a static string for any value.
            cstr(unsafe { ffi::qv_strerror(status) })
        } else {
            message.to_string()
        };
        match status {
            ffi::QV_ENULL => Error::Null(msg),
            ffi::QV_EINVAL => Error::Invalid(msg),
            ffi::QV_ERANGE => Error::Range(msg),
            ffi::QV_EDIM => Error::Dim(msg),
            ffi::QV_ENONFINITE => Error::NonFinite(msg),
            ffi::QV_ENOTFOUND => Error::NotFound(msg),
            ffi::QV_EEXIST => Error::Exists(msg),
            ffi::QV_ENOMEM => Error::NoMem(msg),
            ffi::QV_EIO => Error::Io(msg),
            ffi::QV_ECORRUPT => Error::Corrupt(msg),
            ffi::QV_EFORMAT => Error::Format(msg),
            // QV_EINTERNAL, and a status newer than this crate.
            _ => Error::Internal(msg),
        }
    }

    /// Which status the call failed with.
    pub fn status(&self) -> Status {
        match self {
            Error::Null(_) => Status::Null,
            Error::Invalid(_) => Status::Invalid,
            Error::Range(_) => Status::Range,
            Error::Dim(_) => Status::Dim,
            Error::NonFinite(_) => Status::NonFinite,
            Error::NotFound(_) => Status::NotFound,
            Error::Exists(_) => Status::Exists,
            Error::NoMem(_) => Status::NoMem,
            Error::Io(_) => Status::Io,
            Error::Corrupt(_) => Status::Corrupt,
            Error::Format(_) => Status::Format,
            Error::Internal(_) => Status::Internal,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Error::Null(m)
            | Error::Invalid(m)
            | Error::Range(m)
            | Error::Dim(m)
            | Error::NonFinite(m)
            | Error::NotFound(m)
            | Error::Exists(m)
            | Error::NoMem(m)
            | Error::Io(m)
            | Error::Corrupt(m)
            | Error::Format(m)
            | Error::Internal(m) => m,
        }
    }

    /// The C name of the status ("QV_EDIM").
    pub fn status_name(&self) -> String {
        let code = self.status() as ffi::qv_status + 1;
        // SAFETY: qv_status_name returns a static string for any value.
        cstr(unsafe { ffi::qv_status_name(code) })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status_name(), self.message())
    }
}

impl std::error::Error for Error {}
