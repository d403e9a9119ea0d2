"""Loading libquiver.so, and turning statuses into exceptions.

The library is found, in order: the file named by QUIVER_LIB; libquiver.so.0
in the directory QUIVER_LIB_DIR; next to this package (an installed copy);
the build trees of the source checkout this package lives in (build/,
build-run/); the system's linker path.  Every prototype of _ffi.PROTOTYPES
is applied, so ctypes converts and checks each argument.  ctypes releases
the GIL around each call, so Python threads search in parallel.
"""

import ctypes
import ctypes.util
import os

from . import _ffi

ERRCAP = 1024


class QuiverError(Exception):
    """A failed library call: `status` ("QV_EDIM"), `code`, `message`."""

    code = -1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    @property
    def status(self) -> str:
        return _ffi.STATUS_NAMES[self.code] if 0 <= self.code < len(
            _ffi.STATUS_NAMES) else "QV_EINTERNAL"

    def __str__(self) -> str:
        return "%s: %s" % (self.status, self.message)


def _error_class(name, code, *bases):
    return type(name, (QuiverError,) + bases, {"code": code, "__doc__":
                                               _ffi.STATUS_NAMES[code]})


NullError = _error_class("NullError", _ffi.QV_ENULL, ValueError)
InvalidError = _error_class("InvalidError", _ffi.QV_EINVAL, ValueError)
RangeError = _error_class("RangeError", _ffi.QV_ERANGE, ValueError)
DimError = _error_class("DimError", _ffi.QV_EDIM, ValueError)
NonFiniteError = _error_class("NonFiniteError", _ffi.QV_ENONFINITE, ValueError)
NotFoundError = _error_class("NotFoundError", _ffi.QV_ENOTFOUND, LookupError)
ExistsError = _error_class("ExistsError", _ffi.QV_EEXIST)
NoMemError = _error_class("NoMemError", _ffi.QV_ENOMEM, MemoryError)
IOFailure = _error_class("IOFailure", _ffi.QV_EIO)
CorruptError = _error_class("CorruptError", _ffi.QV_ECORRUPT)
FormatError = _error_class("FormatError", _ffi.QV_EFORMAT)
InternalError = _error_class("InternalError", _ffi.QV_EINTERNAL)

ERRORS = {cls.code: cls for cls in (
    NullError, InvalidError, RangeError, DimError, NonFiniteError,
    NotFoundError, ExistsError, NoMemError, IOFailure, CorruptError,
    FormatError, InternalError)}


def _candidates():
    if os.environ.get("QUIVER_LIB"):
        yield os.environ["QUIVER_LIB"]
    if os.environ.get("QUIVER_LIB_DIR"):
        yield os.path.join(os.environ["QUIVER_LIB_DIR"], "libquiver.so.0")
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "libquiver.so.0")
    root = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    for build in ("build", "build-run"):
        yield os.path.join(root, build, "libquiver.so.0")
    found = ctypes.util.find_library("quiver")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        lib = ctypes.CDLL(path)
        for name, (restype, argtypes) in _ffi.PROTOTYPES.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        return lib
    raise ImportError("libquiver.so not found (set QUIVER_LIB to its path or "
                      "QUIVER_LIB_DIR to its directory); tried: " +
                      ", ".join(tried))


lib = _load()


def error(code: int, message: str = "") -> QuiverError:
    if not message:
        message = lib.qv_strerror(code).decode()
    return ERRORS.get(code, InternalError)(message)


def check_err(call) -> None:
    """Runs call(err, errcap); a failure raises with the message in err."""
    buf = ctypes.create_string_buffer(ERRCAP)
    code = call(buf, ERRCAP)
    if code != _ffi.QV_OK:
        raise error(code, buf.value.decode("utf-8", "replace"))


def read_errmsg(get, handle) -> str:
    buf = ctypes.create_string_buffer(256)
    n = get(handle, buf, len(buf))
    if n >= len(buf):
        buf = ctypes.create_string_buffer(n + 1)
        get(handle, buf, len(buf))
    return buf.value.decode("utf-8", "replace")
