#!/usr/bin/env python3
"""check_ffi.py -- the bindings' hand-written C declarations against quiver.h.

Usage: check_ffi.py [ROOT]          check the tree at ROOT (default: the
                                    tree this script lives in)
       check_ffi.py --self-test     plant drift in a copy of the tree and
                                    make sure each kind is reported
       check_ffi.py --draft NAME    print the Rust declaration quiver.h
                                    implies for function NAME (a help when
                                    binding a new function)

The Rust crate (bindings/rust/src/ffi.rs) and the Python package
(bindings/python/quiver/_ffi.py) declare the C API by hand: no bindgen, no
crates, no compiler at import time.  Hand-written declarations drift when the
header changes, and drift in an FFI is memory corruption, not a compile
error: a field added to qv_collection_config makes the library write past a
binding's smaller struct.  This script is the guard.  It reads quiver.h
(comments stripped) and fails, naming the item, when

  - a function the bindings declare is not in the header, or its return or
    parameter types differ (names of parameters are not compared);
  - a struct or union the bindings declare differs from the header's in any
    field's name, type or position, or an opaque handle is declared with
    fields;
  - an enum's underlying type or any of its enumerators' values differ, or
    a binding that declares an enum's type omits one of its enumerators
    (the status enum is mapped to error variants one for one);
  - a #define constant the bindings copy has another value.

Functions of the header that the bindings do not declare are listed but do
not fail the check: a new function does not make the existing declarations
wrong, it only is not bound yet.

Types are compared in one canonical spelling, Rust's: `const char *const *`
is `*const *const c_char`.  Python's ctypes spelling is derived from it
(pointers to char are c_char_p, to handles and void c_void_p, to anything else
POINTER(T); C enums are c_uint, as GCC lays out an enum whose values are all
non-negative).  Only python3's standard library is used.
"""

import importlib.util
import os
import re
import sys

BASE = {
    "char": "c_char", "int": "c_int", "unsigned": "c_uint",
    "unsigned int": "c_uint", "size_t": "usize", "bool": "bool",
    "float": "f32", "double": "f64", "void": "c_void", "uint8_t": "u8",
    "uint32_t": "u32", "int32_t": "i32", "uint64_t": "u64", "int64_t": "i64",
}


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def c_type_to_rust(ctype):
    """`const char *const *` -> `*const*constc_char` (whitespace removed)."""
    toks = re.findall(r"\*|\bconst\b|\bunsigned\s+int\b|[A-Za-z_]\w*", ctype)
    base_words, consts, stars = [], [False], 0
    for t in toks:
        if t == "*":
            stars += 1
            consts.append(False)
        elif t == "const":
            consts[stars] = True
        else:
            base_words.append(t)
    base = " ".join(base_words)
    out = BASE.get(base, base)
    for level in range(stars):
        out = ("*const" if consts[level] else "*mut") + out
    return out


def split_top(text, sep=","):
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def c_decl(decl):
    """'const char *const *keys' -> ('keys', rust type); arrays as [T;N]."""
    m = re.match(r"(.*?)([A-Za-z_]\w*)\s*(?:\[(\w+)\])?\s*$", decl.strip(),
                 re.S)
    ctype, name, arr = m.group(1), m.group(2), m.group(3)
    rust = c_type_to_rust(ctype)
    if arr:
        rust = "[%s;%s]" % (rust, arr)
    return name, rust


# ---- the header ------------------------------------------------------------
class Header:
    def __init__(self, text):
        self.text = strip_comments(text)
        self.functions = {}   # name -> (ret, [param types])
        self.structs = {}     # name -> [(field, type)] ; None for opaque
        self.enums = {}       # name -> {enumerator: value}
        self.defines = {}     # name -> int or str
        self._functions()
        self._structs()
        self._enums()
        self._defines()

    def constants(self):
        """#define values and enumerators by name."""
        known = dict(self.defines)
        for vals in self.enums.values():
            known.update(vals)
        return known

    def _functions(self):
        for m in re.finditer(r"QV_API\s+([^;(]*?)\b(qv_\w+)\s*\(([^)]*)\)\s*;",
                             self.text):
            ret = c_type_to_rust(m.group(1))
            params = m.group(3).strip()
            types = [] if params in ("", "void") else \
                [c_decl(p)[1] for p in split_top(params)]
            self.functions[m.group(2)] = ("" if ret == "c_void" else ret,
                                          types)

    def _structs(self):
        for m in re.finditer(r"typedef\s+struct\s+(\w+)\s+(\w+)\s*;",
                             self.text):
            self.structs[m.group(2)] = None
        for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{", self.text):
            name = m.group(1)
            body = self._braced(m.end() - 1)
            self.structs[name] = self._fields(name, body)

    def _braced(self, open_at):
        depth = 0
        for i in range(open_at, len(self.text)):
            if self.text[i] == "{":
                depth += 1
            elif self.text[i] == "}":
                depth -= 1
                if depth == 0:
                    return self.text[open_at + 1:i]
        raise ValueError("unbalanced braces")

    def _fields(self, owner, body):
        fields = []
        while body.strip():
            body = body.strip()
            if body.startswith("union"):
                start = body.index("{")
                depth, end = 0, start
                for end in range(start, len(body)):
                    depth += {"{": 1, "}": -1}.get(body[end], 0)
                    if depth == 0:
                        break
                inner = body[start + 1:end]
                rest = body[end + 1:]
                fname, rest = rest.split(";", 1)
                fname = fname.strip()
                uname = "%s_%s" % (owner, fname)
                self.structs[uname] = self._fields(uname, inner)
                fields.append((fname, uname))
                body = rest
                continue
            decl, body = body.split(";", 1)
            fields.append(c_decl(decl))
        return fields

    def _enums(self):
        for m in re.finditer(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;",
                             self.text, re.S):
            values, nxt = {}, 0
            for item in split_top(m.group(2)):
                if "=" in item:
                    k, v = item.split("=", 1)
                    nxt = int(v.strip(), 0)
                    k = k.strip()
                else:
                    k = item.strip()
                values[k] = nxt
                nxt += 1
            self.enums[m.group(3)] = values

    def _defines(self):
        for m in re.finditer(r"^\s*#define\s+(QV_\w+)\s+(.+)$", self.text, re.M):
            val = m.group(2).strip()
            if val.startswith('"'):
                self.defines[m.group(1)] = val.strip('"')
                continue
            expr = re.sub(r"(\d+|0x[0-9a-fA-F]+)(ull|ul|u|ll|l)\b", r"\1",
                          val)
            if re.fullmatch(r"[0-9a-fA-Fx()<< ]+", expr):
                self.defines[m.group(1)] = eval(expr)  # digits, <<, () only


# ---- the Rust declarations -------------------------------------------------
class RustDecls:
    def __init__(self, text):
        text = re.sub(r"//[^\n]*", "", text)
        self.functions, self.structs, self.aliases, self.consts = {}, {}, {}, {}
        for block in re.finditer(r'extern\s+"C"\s*\{(.*?)\n\}', text, re.S):
            for m in re.finditer(
                    r"pub\s+fn\s+(\w+)\s*\(([^)]*)\)\s*(?:->\s*([^;]+))?;",
                    block.group(1), re.S):
                params = [p.split(":", 1)[1] for p in split_top(m.group(2))]
                self.functions[m.group(1)] = (
                    norm(m.group(3) or ""), [norm(p) for p in params])
        for m in re.finditer(r"pub\s+(struct|union)\s+(\w+)\s*\{(.*?)\}", text,
                             re.S):
            fields = []
            for f in split_top(m.group(3)):
                name, typ = f.split(":", 1)
                name = name.replace("pub", "").strip()
                fields.append((name, norm(typ)))
            if [n for n, _ in fields] == ["_private"]:
                fields = None
            self.structs[m.group(2)] = fields
        for m in re.finditer(r"pub\s+type\s+(\w+)\s*=\s*(\w+)\s*;", text):
            self.aliases[m.group(1)] = m.group(2)
        for m in re.finditer(r"pub\s+const\s+(\w+)\s*:\s*([^=]+)=\s*([^;]+);",
                             text):
            self.consts[m.group(1)] = (norm(m.group(2)), m.group(3).strip())


def norm(t):
    return re.sub(r"\s+", "", t)


def rust_value(text):
    text = text.strip()
    if text.startswith('"'):
        return text.strip('"')
    return eval(text.replace("_", ""))  # integer literals and << only


# ---- comparisons -------------------------------------------------------------
def check_rust(h, r, errors):
    where = "bindings/rust/src/ffi.rs"
    for name, (ret, params) in sorted(r.functions.items()):
        if name not in h.functions:
            errors.append("%s: fn %s is not in quiver.h" % (where, name))
            continue
        hret, hparams = h.functions[name]
        if ret != hret:
            errors.append("%s: fn %s returns %s, quiver.h says %s" %
                          (where, name, ret or "()", hret or "()"))
        if params != hparams:
            errors.append("%s: fn %s takes (%s), quiver.h says (%s)" %
                          (where, name, ", ".join(params), ", ".join(hparams)))
    for name, fields in sorted(r.structs.items()):
        if name not in h.structs:
            errors.append("%s: %s is not a struct of quiver.h" % (where, name))
        elif fields != h.structs[name]:
            errors.append("%s: %s has fields %s, quiver.h says %s" %
                          (where, name, fields, h.structs[name]))
    for name, base in sorted(r.aliases.items()):
        if name not in h.enums:
            continue
        want = "c_int" if min(h.enums[name].values()) < 0 else "c_uint"
        if base != want:
            errors.append("%s: type %s = %s, quiver.h's enum is %s" %
                          (where, name, base, want))
        for k, v in h.enums[name].items():
            if k not in r.consts:
                errors.append("%s: enumerator %s of %s is missing" %
                              (where, k, name))
    known = h.constants()
    for name, (_, value) in sorted(r.consts.items()):
        if name not in known:
            errors.append("%s: const %s is not in quiver.h" % (where, name))
        elif rust_value(value) != known[name]:
            errors.append("%s: const %s = %s, quiver.h says %r" %
                          (where, name, value, known[name]))


def ctypes_of(rust, mod, h):
    """The ctypes object(s) a canonical Rust type may be declared as."""
    import ctypes as ct
    scalars = {"c_char": ct.c_char, "c_int": ct.c_int, "c_uint": ct.c_uint,
               "usize": ct.c_size_t, "bool": ct.c_bool, "f32": ct.c_float,
               "f64": ct.c_double, "u8": ct.c_uint8, "u32": ct.c_uint32,
               "i32": ct.c_int32, "u64": ct.c_uint64, "i64": ct.c_int64}
    if rust == "":
        return [None]
    if rust in scalars:
        return [scalars[rust]]
    if rust in h.enums:
        return [ct.c_uint]
    m = re.fullmatch(r"\[(.+);(\d+)\]", rust)
    if m:
        return [t * int(m.group(2)) for t in ctypes_of(m.group(1), mod, h)]
    m = re.fullmatch(r"\*(?:const|mut)(.+)", rust)
    if m:
        inner = m.group(1)
        if inner == "c_char":
            return [ct.c_char_p, ct.POINTER(ct.c_char)]
        if inner == "c_void" or h.structs.get(inner, 0) is None:
            return [ct.c_void_p]
        return [ct.POINTER(t) for t in ctypes_of(inner, mod, h)]
    if rust in h.structs and hasattr(mod, rust):
        return [getattr(mod, rust)]
    return []


def check_python(h, mod, errors):
    where = "bindings/python/quiver/_ffi.py"
    for name, (restype, argtypes) in sorted(mod.PROTOTYPES.items()):
        if name not in h.functions:
            errors.append("%s: %s is not in quiver.h" % (where, name))
            continue
        hret, hparams = h.functions[name]
        if restype not in ctypes_of(hret, mod, h):
            errors.append("%s: %s returns %s, quiver.h says %s" %
                          (where, name, restype, hret))
        if len(argtypes) != len(hparams):
            errors.append("%s: %s takes %d arguments, quiver.h says %d" %
                          (where, name, len(argtypes), len(hparams)))
            continue
        for i, (a, p) in enumerate(zip(argtypes, hparams)):
            if a not in ctypes_of(p, mod, h):
                errors.append("%s: %s argument %d is %s, quiver.h says %s" %
                              (where, name, i, a, p))
    for name in getattr(mod, "STRUCTS", []):
        cls = getattr(mod, name)
        want = h.structs.get(name, "missing")
        if want in ("missing", None):
            errors.append("%s: %s is not a struct of quiver.h" % (where, name))
            continue
        got = [f[0] for f in cls._fields_]
        if got != [f for f, _ in want]:
            errors.append("%s: %s has fields %s, quiver.h says %s" %
                          (where, name, got, [f for f, _ in want]))
            continue
        for (fname, ftype), (_, rust) in zip(cls._fields_, want):
            if ftype not in ctypes_of(rust, mod, h):
                errors.append("%s: %s.%s is %s, quiver.h says %s" %
                              (where, name, fname, ftype, rust))
    known = h.constants()
    for name, value in getattr(mod, "CONSTANTS", {}).items():
        if known.get(name, object()) != value:
            errors.append("%s: %s = %r, quiver.h says %r" %
                          (where, name, value, known.get(name)))


def load_python_ffi(path):
    spec = importlib.util.spec_from_file_location("quiver_ffi_decls", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# Each mutation of quiver.h and the message it must produce.
SELF_TEST = [
    ("    uint32_t max_indexing_threads;",
     "    uint32_t max_indexing_threads;\n    uint32_t planted;",
     ["ffi.rs: qv_collection_config has fields",
      "_ffi.py: qv_collection_config has fields"]),
    ("qv_count(qv_collection *c, uint64_t *out)",
     "qv_count(qv_collection *c, uint32_t *out)",
     ["ffi.rs: fn qv_count takes", "_ffi.py: qv_count argument 1"]),
    ("QV_EINTERNAL,", "QV_EINTERNAL, QV_EPLANTED,",
     ["enumerator QV_EPLANTED of qv_status is missing",
      "_ffi.py: QV_STATUS_COUNT = 13"]),
    ("#define QV_MAX_K 1000000u", "#define QV_MAX_K 1000u",
     ["ffi.rs: const QV_MAX_K"]),
    ("QV_API void qv_filter_free(", "QV_API void qv_filter_gone(",
     ["ffi.rs: fn qv_filter_free is not in quiver.h",
      "_ffi.py: qv_filter_free is not in quiver.h"]),
]


def self_test(root):
    import io
    import contextlib
    import shutil
    import tempfile
    failures = 0
    for old, new, wanted in SELF_TEST:
        tmp = tempfile.mkdtemp()
        try:
            for rel in ("include/quiver.h", "bindings/rust/src/ffi.rs",
                        "bindings/python/quiver/_ffi.py"):
                os.makedirs(os.path.join(tmp, os.path.dirname(rel)),
                            exist_ok=True)
                shutil.copy(os.path.join(root, rel), os.path.join(tmp, rel))
            path = os.path.join(tmp, "include/quiver.h")
            with open(path) as f:
                text = f.read()
            assert old in text, "self-test mutation no longer applies: " + old
            with open(path, "w") as f:
                f.write(text.replace(old, new, 1))
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = main(["check_ffi.py", tmp])
            for w in wanted:
                if rc != 1 or w not in out.getvalue():
                    print("self-test: %r not reported for %r" % (w, new))
                    failures += 1
        finally:
            shutil.rmtree(tmp)
    print("self-test: %d mutations, %d failures" % (len(SELF_TEST), failures))
    return 1 if failures else 0


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test(root)
    if len(argv) > 2 and argv[1] == "--draft":
        with open(os.path.join(root, "include/quiver.h")) as f:
            h = Header(f.read())
        ret, params = h.functions[argv[2]]
        print("pub fn %s(%s)%s;" % (argv[2], ", ".join(
            "a%d: %s" % (i, p.replace("*const", "*const ").replace(
                "*mut", "*mut ")) for i, p in enumerate(params)),
            " -> " + ret if ret else ""))
        return 0
    if len(argv) > 1:
        root = argv[1]
    with open(os.path.join(root, "include/quiver.h")) as f:
        h = Header(f.read())
    with open(os.path.join(root, "bindings/rust/src/ffi.rs")) as f:
        r = RustDecls(f.read())
    py = load_python_ffi(os.path.join(root, "bindings/python/quiver/_ffi.py"))
    errors = []
    check_rust(h, r, errors)
    check_python(h, py, errors)
    unbound = sorted(set(h.functions) - set(r.functions))
    if unbound:
        print("not bound in Rust (not an error): " + ", ".join(unbound))
    unbound = sorted(set(h.functions) - set(py.PROTOTYPES))
    if unbound:
        print("not bound in Python (not an error): " + ", ".join(unbound))
    for e in errors:
        print(e)
    print("%d functions, %d structs checked in Rust; %d functions, %d structs "
          "in Python; %d errors" % (len(r.functions), len(r.structs),
                                    len(py.PROTOTYPES),
                                    len(getattr(py, "STRUCTS", [])),
                                    len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
