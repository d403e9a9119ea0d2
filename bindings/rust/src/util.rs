//! Small helpers shared by the wrappers: C strings in and out, the `err`
//! buffers of calls that have one, and a minimal executor for the async
//! methods of vector_store (whose futures never wait on anything).
use crate::error::{Error, Result};
use crate::ffi;
use std::ffi::{CStr, CString};
use std::future::Future;
use std::os::raw::c_char;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// Room for the messages of calls with an `err` buffer; longer ones are cut.
pub(crate) const ERRCAP: usize = 1024;

/// A C string's bytes as a `String` (lossily: the library writes UTF-8, but a
/// key the application stored may not be).  NULL gives "".
pub(crate) fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the library returns NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// `s` as a C string; a NUL inside is an `Invalid` error, as the library
/// would refuse the cut string anyway.
pub(crate) fn c_string(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Invalid(format!("{} contains a NUL byte", what)))
}

pub(crate) fn c_path(p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::Invalid(format!("path {:?} contains a NUL byte", p)))
}

/// Runs `f(err, errcap)` and turns a failure into an `Error` with the
/// message written to `err`.
pub(crate) fn with_err<F>(f: F) -> Result<()>
where
    F: FnOnce(*mut c_char, usize) -> ffi::qv_status,
{
    let mut buf = vec![0 as c_char; ERRCAP];
    let status = f(buf.as_mut_ptr(), buf.len());
    if status == ffi::QV_OK {
        return Ok(());
    }
    Err(Error::new(status, &cstr(buf.as_ptr())))
}

/// QV_OK, or the status with the message a handle recorded for it, read
/// with `get(buf, cap) -> full length` (`qv_collection_errmsg`,
/// `qv_store_errmsg`).
pub(crate) fn check_handle<F>(status: ffi::qv_status, get: F) -> Result<()>
where
    F: Fn(*mut c_char, usize) -> usize,
{
    if status == ffi::QV_OK {
        return Ok(());
    }
    Err(Error::new(status, &read_errmsg(get)))
}

/// Reads a handle's message with `get(buf, cap) -> full length`, growing the
/// buffer once if the message is longer.
fn read_errmsg<F>(get: F) -> String
where
    F: Fn(*mut c_char, usize) -> usize,
{
    let mut buf = vec![0 as c_char; 256];
    let len = get(buf.as_mut_ptr(), buf.len());
    if len >= buf.len() {
        buf = vec![0 as c_char; len + 1];
        get(buf.as_mut_ptr(), buf.len());
    }
    cstr(buf.as_ptr())
}

/// A vector of `n` copies of `value`, or `NoMem` instead of the abort that
/// `vec!` gives when the allocation fails: a huge k or batch is bad input,
/// not a reason to take the process down.
pub(crate) fn try_vec<T: Clone>(n: usize, value: T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        Error::NoMem(format!(
            "cannot allocate {} result slots of {} bytes",
            n,
            std::mem::size_of::<T>()
        ))
    })?;
    v.resize(n, value);
    Ok(v)
}

/// `n` as the library's u32 dimension, or a `Range` error.
pub(crate) fn dim_u32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Range(format!("vector of {} components is too long", n)))
}

fn noop_raw_waker() -> RawWaker {
    fn clone(_: *const ()) -> RawWaker {
        noop_raw_waker()
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    RawWaker::new(std::ptr::null(), &VTABLE)
}

/// Runs a future to completion on the calling thread, for programs without an
/// async runtime.  Meant for the futures of this crate, which are ready at
/// their first poll (they call the library synchronously); any other future
/// is polled until ready, yielding the thread between polls.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    // SAFETY: the vtable's functions do nothing and ignore the data pointer.
    let waker = unsafe { Waker::from_raw(noop_raw_waker()) };
    let mut cx = Context::from_waker(&waker);
    let mut fut = fut;
    // SAFETY: `fut` is a local that is never moved after being pinned here.
    let mut fut = unsafe { Pin::new_unchecked(&mut fut) };
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
