#!/usr/bin/env python3
"""check_layers.py -- keeps Quiver's layering (docs/ARCHITECTURE.md).

Usage: check_layers.py [ROOT]       check the tree at ROOT (default: the
                                    tree this script lives in)
       check_layers.py --self-test  check the checker on tiny fake trees

Three rules, each reported as `file:line: [rule] what` (exit status 1 when
anything is reported, 0 when the tree is clean):

  include    every project header a file includes (quoted or in angle
             brackets, resolved as the build resolves it) lies in a folder
             that the including file's row of LAYERS below allows;
  leaf       the leaf folders of core (LEAVES) never name the type
             qv_collection: they take plain arrays and callbacks, so that
             they can be tested and fuzzed alone;
  internal   no qvi_ (internal) identifier is used from the folders in
             PUBLIC_ONLY, which reach the library through include/quiver.h.

The leaf and internal rules look at code only: comments and string
literals are blanked first (keeping line numbers), so that an essay may
still say which struct a leaf never sees.  Includes are read with comments
blanked, and every #include counts whatever #if surrounds it: a layer
violation behind a build option is still one.

Every C or C++ file under the tree is checked, except those under EXEMPT
(tests and benchmarks measure internals on purpose).  A file in a folder
that has no row in LAYERS is itself reported: a new folder must take its
place in the table before it can build on anything.

Only python3's standard library is used, so the check runs in every build
that runs the tests.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

# ---- the table --------------------------------------------------------------
# LAYERS: (folder or file, project paths its includes may resolve into).
# The longest matching first column applies to a file; a path ending in "/"
# is a folder and allows everything under it.  docs/ARCHITECTURE.md quotes
# this table: change both together.
PUBLIC = "include/quiver.h"
LAYERS = [
    ("include/", ["include/"]),
    ("simd/", ["simd/", PUBLIC]),
    ("core/base/", ["core/base/", "simd/", PUBLIC]),
    ("core/hnsw/", ["core/hnsw/", "core/base/", "simd/", PUBLIC]),
    ("core/multi/", ["core/multi/", "core/base/", "simd/", PUBLIC]),
    ("core/quant/", ["core/quant/", "core/base/", "simd/", PUBLIC]),
    ("core/filter/", ["core/filter/", "core/base/", PUBLIC]),
    ("core/payload/", ["core/payload/", "core/filter/", "core/base/", PUBLIC]),
    ("core/text/", ["core/text/", "core/base/", PUBLIC]),
    ("core/pindex/",
     ["core/pindex/", "core/text/", "core/payload/", "core/filter/",
      "core/base/", PUBLIC]),
    ("core/sparse/", ["core/sparse/", "core/base/", PUBLIC]),
    ("core/search/", ["core/", "simd/", PUBLIC]),
    ("core/", ["core/", "simd/", PUBLIC]),
    ("persist/", ["persist/", "core/", "simd/", PUBLIC]),
    ("server/grpc/", ["server/", PUBLIC]),
    ("server/", ["server/", PUBLIC]),
    ("cli/", ["cli/", PUBLIC]),
    ("bindings/", ["bindings/", PUBLIC]),
    # The benchmark driver for Quiver measures what applications get.
    ("bench/driver_quiver.c", ["bench/", PUBLIC]),
]

# (file, header): includes allowed beyond the file's row, with the reason.
EXCEPTIONS = {
    ("cli/main.c", "server/server.h"):
        "`quiver serve` runs the server, itself built on quiver.h only",
    ("cli/main.c", "bench/harness.h"):
        "`quiver bench` runs the harness, whose header includes no "
        "project header",
}

# Folders not checked at all (a file listed in LAYERS still is).
EXEMPT = ["tests/", "bench/"]

# Leaf folders of core: they never name qv_collection.
LEAVES = ["core/base/", "core/sparse/", "core/hnsw/", "core/multi/", "core/quant/", "core/filter/", "core/payload/",
          "core/pindex/", "core/text/"]

# Folders (and files) that use no qvi_ identifier.
PUBLIC_ONLY = ["server/", "cli/", "bindings/", "bench/driver_quiver.c"]

SOURCE_EXT = (".c", ".h", ".cc", ".cpp", ".hpp")
SKIP_DIRS = {".git", "node_modules"}

# ---- reading C --------------------------------------------------------------


def blank(text, strings):
    """Returns text with comments (and, if strings, the insides of string
    and character literals) replaced by spaces; newlines are kept, so line
    numbers still match."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "/" and text.startswith("//", i):
            j = i
            # A backslash-newline continues a // comment.
            while j < n and text[j] != "\n":
                j += 2 if text[j] == "\\" and j + 1 < n else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            if strings:
                out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) +
                           text[j - 1:j])
            else:
                out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]',
                        re.M)


def includes(code):
    """Yields (line, quoted, name) for each #include of code."""
    for m in INCLUDE_RE.finditer(code):
        yield code.count("\n", 0, m.start()) + 1, m.group(1) == '"', \
            m.group(2).strip()


def tokens(code, pattern):
    """Yields (line, token) for each match of pattern in code."""
    for m in re.finditer(pattern, code):
        yield code.count("\n", 0, m.start()) + 1, m.group(0)


# ---- the check --------------------------------------------------------------


def under(rel, prefixes):
    return any(rel == p or (p.endswith("/") and rel.startswith(p))
               for p in prefixes)


def row_of(rel):
    """The LAYERS row for rel, or None."""
    best = None
    for folder, allowed in LAYERS:
        if rel == folder or (folder.endswith("/") and rel.startswith(folder)):
            if best is None or len(folder) > len(best[0]):
                best = (folder, allowed)
    return best


def resolve(root, rel, quoted, name):
    """The project path an include names, as the build finds it ("" when
    it is not a project file: a system or third-party header)."""
    bases = ["include", "."]
    if quoted:
        bases.insert(0, os.path.dirname(rel) or ".")
    for base in bases:
        p = os.path.normpath(os.path.join(base, name))
        if p.startswith(".."):
            continue
        if os.path.isfile(os.path.join(root, p)):
            return p.replace(os.sep, "/")
    return ""


def source_files(root):
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS and
                         not x.startswith(".") and
                         not os.path.exists(os.path.join(d, x,
                                                         "CMakeCache.txt")))
        for f in sorted(files):
            if f.endswith(SOURCE_EXT):
                yield os.path.relpath(os.path.join(d, f),
                                      root).replace(os.sep, "/")


def check(root):
    """Returns the violations of the tree at root, as printable lines."""
    found = []
    for rel in source_files(root):
        row = row_of(rel)
        if row is None:
            if not under(rel, EXEMPT) and "/" in rel:
                found.append(f"{rel}:1: [include] {rel.split('/')[0]}/ has "
                             f"no row in the layer table of "
                             f"tests/check_layers.py")
            continue
        with open(os.path.join(root, rel), encoding="utf-8",
                  errors="replace") as f:
            text = f.read()
        folder, allowed = row
        for line, quoted, name in includes(blank(text, strings=False)):
            target = resolve(root, rel, quoted, name)
            if not target or under(target, allowed) or \
                    (rel, target) in EXCEPTIONS:
                continue
            found.append(f"{rel}:{line}: [include] includes {target}, but "
                         f"{folder} may include only {', '.join(allowed)}")
        code = blank(text, strings=True)
        if under(rel, LEAVES):
            for line, _ in tokens(code, r"\bqv_collection\b"):
                found.append(f"{rel}:{line}: [leaf] names qv_collection, which "
                             f"{folder} (a leaf of core) never sees")
        if under(rel, PUBLIC_ONLY):
            for line, tok in tokens(code, r"\bqvi_\w*"):
                found.append(f"{rel}:{line}: [internal] uses {tok}; "
                             f"{folder} uses only the qv_ API of {PUBLIC}")
    return found


# ---- the self-test ----------------------------------------------------------

# A clean tree touching every row.  Comments and strings mention what the
# code may not use, and tests/ and bench/ use internals: none is reported.
CLEAN = {
    "include/quiver.h": "typedef struct qv_collection qv_collection;\n",
    "simd/simd.h": '#include "quiver.h"\n',
    "simd/k.c": '#include "simd/simd.h"\n#include <stdio.h>\n',
    "core/base/base.h": '#include "quiver.h"\nint qvi_base(void);\n',
    "core/base/a.c": '#include "core/base/base.h"\n'
                     "/* never sees qv_collection */\n"
                     'static const char *s = "qv_collection";\n',
    "core/hnsw/hnsw.h": '#include "core/base/base.h"\n#include "simd/simd.h"\n',
    "core/filter/filter.h": '#include "core/base/base.h"\n',
    "core/payload/payload.h": '#include "core/filter/filter.h"\n'
                              '#include "core/base/base.h"\n',
    "core/pindex/pindex.h": '#include "core/payload/payload.h"\n'
                            "// #include \"core/core.h\" would see "
                            "qv_collection\n",
    "core/pindex/p.c": '#include "pindex.h"\n',
    "core/search/search.h": '#include "core/core.h"\n'
                            '#include "core/pindex/pindex.h"\n',
    "core/core.h": '#include "core/base/base.h"\n'
                   "struct qv_collection { int x; };\n",
    "core/c.c": '#include "core/core.h"\n#include "core/search/search.h"\n'
                '#include "core/hnsw/hnsw.h"\n#include "simd/simd.h"\n'
                '/* #include "persist/wal.h" */\n',
    "persist/wal.h": '#include "core/core.h"\n#include "simd/simd.h"\n',
    "persist/w.c": '#include "persist/wal.h"\n#include "core/hnsw/hnsw.h"\n',
    "server/server.h": '#include "quiver.h"\n#include <stdint.h>\n',
    "server/s.c": '#include "server.h"\n#include <quiver.h>\n'
                  "/* not qvi_base() */\n"
                  'static const char *m = "qvi_base";\n'
                  "int qv_ok(void) { return 0; }\n",
    "cli/cmd.h": '#include "quiver.h"\n',
    "cli/main.c": '#include "cmd.h"\n#include "cli/cmd.h"\n'
                  '#ifdef WITH_SERVER\n#include "server/server.h"\n#endif\n'
                  '#include "bench/harness.h"\n',
    "bench/harness.h": "#include <stdio.h>\n",
    "bench/harness.c": '#include "core/core.h"\nint f(void) '
                       "{ return qvi_base(); }\n",
    "bench/driver_quiver.c": '#include "harness.h"\n#include "quiver.h"\n',
    "tests/t.c": '#include "core/pindex/pindex.h"\n#include "persist/wal.h"\n'
                 "int g(qv_collection *c) { return qvi_base(); }\n",
}

# (file, text appended, the report expected: file:line: [rule] and a word
# of the message).  Each case is applied alone to a copy of CLEAN.
CASES = [
    ("simd/k.c", '#include "core/base/base.h"\n', "simd/k.c:3: [include]"),
    ("core/c.c", '#include "persist/wal.h"\n', "core/c.c:6: [include]"),
    ("core/c.c", '#include "server/server.h"\n', "core/c.c:6: [include]"),
    ("core/c.c", '#include "tests/t.c"\n', "core/c.c:6: [include]"),
    ("core/base/a.c", '#include "core/filter/filter.h"\n',
     "core/base/a.c:4: [include]"),
    ("core/hnsw/hnsw.h", '#include "core/core.h"\n',
     "core/hnsw/hnsw.h:3: [include]"),
    ("core/filter/filter.h", '#include "core/payload/payload.h"\n',
     "core/filter/filter.h:2: [include]"),
    ("core/payload/payload.h", '#include "core/pindex/pindex.h"\n',
     "core/payload/payload.h:3: [include]"),
    ("core/pindex/p.c", '#include "core/search/search.h"\n',
     "core/pindex/p.c:2: [include]"),
    ("core/pindex/p.c", '#include "../core.h"\n',
     "core/pindex/p.c:2: [include]"),
    ("core/pindex/p.c", '#  include "simd/simd.h"\n',
     "core/pindex/p.c:2: [include]"),
    ("persist/w.c", '#include "server/server.h"\n',
     "persist/w.c:3: [include]"),
    ("persist/w.c", '#include "cli/cmd.h"\n', "persist/w.c:3: [include]"),
    ("server/s.c", '#include "persist/wal.h"\n', "server/s.c:6: [include]"),
    ("server/s.c", '#include <core/core.h>\n', "server/s.c:6: [include]"),
    ("cli/main.c", '#include "../persist/wal.h"\n',
     "cli/main.c:7: [include]"),
    ("cli/cmd.h", '#include "server/server.h"\n', "cli/cmd.h:2: [include]"),
    ("bench/driver_quiver.c", '#include "core/core.h"\n',
     "bench/driver_quiver.c:3: [include]"),
    ("include/quiver.h", '#include "core/base/base.h"\n',
     "include/quiver.h:2: [include]"),
    ("newdir/x.c", '#include "quiver.h"\n', "newdir/x.c:1: [include]"),
    ("core/pindex/p.c", "void f(const qv_collection *c);\n",
     "core/pindex/p.c:2: [leaf]"),
    ("core/base/a.c", "struct qv_collection;\n", "core/base/a.c:4: [leaf]"),
    ("server/s.c", "int h(void) { return qvi_base(); }\n",
     "server/s.c:6: [internal]"),
    ("cli/main.c", 'int k(void) { puts("x"); qvi_atomic_file af; }\n',
     "cli/main.c:7: [internal]"),
    ("bench/driver_quiver.c", "int d(void) { return qvi_base(); }\n",
     "bench/driver_quiver.c:3: [internal]"),
]


def write_tree(root, files):
    for rel, text in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)


def run(root):
    """Runs this script as ctest does; returns (status, output lines)."""
    r = subprocess.run([sys.executable, os.path.abspath(__file__), root],
                       capture_output=True, text=True, check=False)
    return r.returncode, r.stdout.splitlines()


def self_test():
    failures = []
    with tempfile.TemporaryDirectory(prefix="qv-layers-") as tmp:
        clean = os.path.join(tmp, "clean")
        write_tree(clean, CLEAN)
        st, out = run(clean)
        if st != 0:
            failures.append(f"the clean tree failed (status {st}):")
            failures += ["    " + x for x in out]
        for i, (rel, extra, want) in enumerate(CASES):
            root = os.path.join(tmp, f"case{i}")
            shutil.copytree(clean, root)
            files = {rel: CLEAN.get(rel, "") + extra}
            write_tree(root, files)
            st, out = run(root)
            hits = [x for x in out if x.startswith(want)]
            reports = [x for x in out if re.match(r"\S+:\d+: \[", x)]
            if st != 1 or len(hits) != 1 or len(reports) != 1:
                failures.append(f"case {i} ({rel} += {extra.strip()!r}): "
                                f"status {st}, expected one report "
                                f"'{want} ...', got:")
                failures += ["    " + x for x in out]
    for x in failures:
        print(x)
    if failures:
        print("check_layers self-test: FAILED")
        return 1
    print(f"check_layers self-test: the clean tree passes and all "
          f"{len(CASES)} planted violations are reported")
    return 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    root = argv[1] if len(argv) > 1 else \
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = check(root)
    for x in found:
        print(x)
    if found:
        print(f"{len(found)} layering violations (rules and table: "
              f"tests/check_layers.py, docs/ARCHITECTURE.md)")
        return 1
    print("layers: every include, leaf and internal-symbol rule holds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
