//! Point ids: Qdrant's unsigned 64-bit integers or UUIDs.
//!
//! The id is kept in Rust form and converted to `qv_point_id` at each call;
//! integers are `u64` all the way, so ids above 2^53 (where a JSON double
//! would round) are exact.  Ordering is Qdrant's and the library's: every
//! integer before every UUID, integers by value, UUIDs by their 16 bytes --
//! what `#[derive(Ord)]` gives for this declaration order (the tests compare
//! it with `qv_id_compare`).
use crate::error::{Error, Result};
use crate::ffi;
use crate::util::{c_string, cstr};
use std::fmt;
use std::os::raw::c_char;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PointId {
    /// An unsigned integer id.
    Num(u64),
    /// A UUID, as its 16 bytes in text order (big-endian).
    Uuid([u8; 16]),
}

impl PointId {
    /// Parses a UUID in any spelling Qdrant accepts (hyphenated, simple,
    /// braced, URN; either case).
    pub fn uuid(text: &str) -> Result<PointId> {
        let c = c_string(text, "UUID")?;
        let mut out = ffi::qv_point_id {
            kind: 0,
            reserved: 0,
            u: ffi::qv_point_id_u { num: 0 },
        };
        // SAFETY: c is NUL-terminated; out is a valid qv_point_id.
        let st = unsafe { ffi::qv_id_parse_uuid(c.as_ptr(), &mut out) };
        if st != ffi::QV_OK {
            return Err(Error::new(st, &format!("malformed UUID {:?}", text)));
        }
        Ok(PointId::from_raw(&out))
    }

    /// The C form, for calls through [`crate::ffi`].
    pub fn to_raw(self) -> ffi::qv_point_id {
        match self {
            PointId::Num(n) => ffi::qv_point_id {
                kind: ffi::QV_ID_NUM,
                reserved: 0,
                u: ffi::qv_point_id_u { num: n },
            },
            PointId::Uuid(b) => ffi::qv_point_id {
                kind: ffi::QV_ID_UUID,
                reserved: 0,
                u: ffi::qv_point_id_u { uuid: b },
            },
        }
    }

    /// From the C form (an unknown kind reads as an integer).
    pub fn from_raw(raw: &ffi::qv_point_id) -> PointId {
        // SAFETY: the library writes the union member that kind names.
        unsafe {
            if raw.kind == ffi::QV_ID_UUID {
                PointId::Uuid(raw.u.uuid)
            } else {
                PointId::Num(raw.u.num)
            }
        }
    }
}

impl From<u64> for PointId {
    fn from(n: u64) -> PointId {
        PointId::Num(n)
    }
}

/// A decimal integer is a `Num`; anything else must be a UUID.
impl FromStr for PointId {
    type Err = Error;
    fn from_str(s: &str) -> Result<PointId> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<u64>()
                .map(PointId::Num)
                .map_err(|_| Error::Range(format!("id {} is above 2^64 - 1", s)));
        }
        PointId::uuid(s)
    }
}

/// The library's text form: decimal, or a lowercase hyphenated UUID.
impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = self.to_raw();
        let mut buf = [0 as c_char; ffi::QV_UUID_STRLEN];
        // SAFETY: a 37-byte buffer always suffices (quiver.h).
        unsafe { ffi::qv_id_format(&raw, buf.as_mut_ptr(), buf.len()) };
        f.write_str(&cstr(buf.as_ptr()))
    }
}
