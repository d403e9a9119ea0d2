# proto3_optional.cmake -- cmake -P script: copies a .proto file with every
# proto3 `optional` field rewritten as a one-field oneof, for protoc-c 1.4
# (Debian 12), which refuses proto3 optional.  The rewrite is what protoc
# itself does: an optional field is a "synthetic oneof" holding it, and the
# wire format is the same, so messages stay byte-compatible with Qdrant's.
#   cmake -DIN=file.proto -DOUT=dir/file.proto -P proto3_optional.cmake
file(READ "${IN}" text)
string(REGEX REPLACE
  "\n([ \t]*)optional[ \t]+([A-Za-z0-9_.]+)[ \t]+([A-Za-z0-9_]+)[ \t]*=[ \t]*([0-9]+)([^;\n]*);"
  "\n\\1oneof _\\3 { \\2 \\3 = \\4\\5; }" text "${text}")
# A field named `base` (PowExpression) would collide with the `base`
# member every protobuf-c struct starts with; the wire knows only its
# number, so the copy calls it `pow_base` (grpc_convert.c maps it back).
string(REPLACE "Expression base = 1;" "Expression pow_base = 1;" text
       "${text}")
file(WRITE "${OUT}.tmp" "${text}")
file(RENAME "${OUT}.tmp" "${OUT}")
