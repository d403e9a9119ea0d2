#!/usr/bin/python3
"""Loads the store the Rust example saved (bindings/rust/examples/rag.rs,
run by ctest with a directory) and checks what it holds: the two bindings
share the save directory's format.  Usage: interop.py DIR"""

import sys

import quiver

store = quiver.VectorStore.load(sys.argv[1])
assert store.collection_names() == ["notes"], store.collection_names()
assert store.total_points() == 2, store.total_points()
texts = sorted(r.payload["text"] for r in store.search("notes", [1, 1, 1, 1], 5))
assert texts == ["apple", "kiwi"], texts
store.delete_by_entity("notes", "note-0")
store.save(sys.argv[1])
assert quiver.VectorStore.load(sys.argv[1]).total_points() == 1
print("python loaded the Rust store:", texts)
