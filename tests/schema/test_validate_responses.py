#!/usr/bin/python3
"""Unit tests of validate_responses.py: good bodies pass, bad ones fail
with the path and a reason, OpenAPI 3.0's nullable is understood, and the
routing rules (literal before parameter, legacy spec, status fallback)
pick the schema Qdrant's router would."""

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import validate_responses as vr  # noqa: E402

CHECKER = vr.Checker()


def ok(result):
    return {"result": result, "status": "ok", "time": 0.001}


def rec(method, path, status, body):
    return {"method": method, "path": path, "status": status, "body": body}


SCORED = {"id": 7, "version": 3, "score": 0.5}
UUID = "5c56c793-69f3-4fbf-87e6-c4bf54c28c05"

GOOD = [
    rec("GET", "/", 200, {"title": "qdrant - vector search engine",
                          "version": "1.19.0", "commit": "a" * 40}),
    rec("GET", "/", 200, {"title": "qdrant - vector search engine",
                          "version": "1.19.0", "commit": None}),
    rec("GET", "/healthz", 200, "healthz check passed"),
    rec("GET", "/collections", 200, ok({"collections": [{"name": "a"}]})),
    rec("GET", "/collections/", 200, ok({"collections": []})),
    rec("GET", "/collections/my%20coll/exists", 200, ok({"exists": False})),
    rec("POST", "/collections/aliases?timeout=5", 200, ok(True)),
    rec("PUT", "/collections/c/points?wait=true", 200,
        ok({"operation_id": 3, "status": "completed"})),
    rec("PUT", "/collections/c/points", 200,
        ok({"operation_id": None, "status": "acknowledged"})),
    rec("POST", "/collections/c/points/query", 200, ok({"points": [
        SCORED,
        {"id": UUID, "version": 0, "score": -1.25, "payload": None,
         "vector": [0.1, 0.2]},
        {"id": 1, "version": 0, "score": 2, "payload": {"a": [1, None]},
         "vector": {"img": [1.0], "txt": [2.0]}, "order_value": 42},
    ]})),
    rec("POST", "/collections/c/points/query/batch", 200,
        ok([{"points": [SCORED]}, {"points": []}])),
    rec("POST", "/collections/c/points/scroll", 200,
        ok({"points": [{"id": 1, "payload": {}}], "next_page_offset": None})),
    rec("POST", "/collections/c/points/scroll", 200,
        ok({"points": [], "next_page_offset": UUID})),
    rec("POST", "/collections/c/points/count", 200, ok({"count": 0})),
    rec("GET", "/collections/c/points/12", 200,
        ok({"id": 12, "payload": {"x": 1}, "vector": [1.0, 0.0]})),
    # The legacy endpoints come from the 1.18 spec.
    rec("POST", "/collections/c/points/search", 200, ok([SCORED])),
    rec("POST", "/collections/c/points/search/batch", 200, ok([[SCORED], []])),
    rec("POST", "/collections/c/points/recommend", 200, ok([])),
    # Errors: the envelope, by exact status, class or default.
    rec("GET", "/collections/nope", 404,
        {"status": {"error": "Not found: Collection `nope` doesn't exist!"},
         "time": 0.0}),
    rec("PUT", "/collections/c", 409,
        {"status": {"error": "Wrong input: Collection `c` already exists!"},
         "time": 0.0}),
    rec("POST", "/collections/c/points/query", 500,
        {"status": {"error": "Service internal error: x"}, "time": 0.1}),
    # A JSON body recorded as text is parsed.
    rec("GET", "/collections", 200, json.dumps(ok({"collections": []}))),
    # Authentication answers in plain text, as Qdrant's does.
    rec("GET", "/collections", 401, "Invalid API key or JWT"),
]

SKIPPED = [
    rec("GET", "/no/such/route", 404, ""),
    rec("DELETE", "/healthz", 405, ""),
    rec("OPTIONS", "/collections", 200, ""),
]

# (record, words the reason must contain)
BAD = [
    (rec("POST", "/collections/c/points/query", 200,
         ok({"points": [{"id": 7, "score": 0.5}]})),
     ["points/0", "version"]),
    (rec("POST", "/collections/c/points/query", 200,
         ok({"points": [{"id": 7, "version": 1, "score": "high"}]})),
     ["points/0/score", "number"]),
    (rec("POST", "/collections/c/points/query", 200,
         ok({"points": [{"id": -4, "version": 1, "score": 1}]})),
     ["points/0/id"]),
    (rec("POST", "/collections/c/points/query", 200,
         ok({"points": [{"id": 4, "version": 1.5, "score": 1}]})),
     ["points/0/version", "integer"]),
    (rec("POST", "/collections/c/points/query", 200,
         ok({"points": [{"id": 4, "version": 1, "score": 1,
                         "payload": [1, 2]}]})),
     ["points/0/payload"]),
    (rec("PUT", "/collections/c/points", 200,
         ok({"operation_id": 1, "status": "done"})),
     ["result/status", "done"]),
    (rec("GET", "/collections", 200, ok({"collections": "a"})),
     ["result/collections", "array"]),
    (rec("GET", "/collections/c", 200, ok({"status": "green"})),
     ["result", "required"]),
    (rec("POST", "/collections/c/points/search", 200, ok({"points": []})),
     ["result", "array"]),
    (rec("GET", "/collections", 200, "<html>oops</html>"),
     ["not JSON"]),
    (rec("GET", "/healthz", 200, {"ok": True}),
     ["text/plain"]),
    (rec("GET", "/nowhere", 200, ok(True)),
     ["matches no path"]),
    (rec("PATCH", "/collections/c/points/count", 200, ok({"count": 1})),
     ["not an operation"]),
    (rec("GET", "/", 500, {"x": 1}),
     ["not documented"]),
    (rec("GET", "/collections", 404, {"status": {"error": 5}}),
     ["status/error", "string"]),
    ({"method": "GET", "path": "/"}, ["status"]),
]


class TranslateTest(unittest.TestCase):
    def check(self, schema, value):
        return vr.jsonschema.Draft4Validator(vr.translate(schema)) \
            .is_valid(value)

    def test_bare_nullable_is_null(self):
        self.assertEqual(vr.translate({"nullable": True}), {"type": "null"})
        any_of = {"anyOf": [{"type": "integer"}, {"nullable": True}]}
        self.assertTrue(self.check(any_of, None))
        self.assertTrue(self.check(any_of, 3))
        self.assertFalse(self.check(any_of, "3"))

    def test_typed_nullable_adds_null(self):
        schema = {"type": "string", "enum": ["a"], "nullable": True}
        self.assertTrue(self.check(schema, None))
        self.assertTrue(self.check(schema, "a"))
        self.assertFalse(self.check(schema, "b"))

    def test_nested_and_format_ignored(self):
        schema = {"type": "object", "properties": {
            "id": {"type": "string", "format": "uuid", "example": "x"},
            "n": {"type": "array", "nullable": True,
                  "items": {"type": "number", "nullable": True}}}}
        self.assertTrue(self.check(schema, {"id": "not-a-uuid", "n": None}))
        self.assertTrue(self.check(schema, {"id": "x", "n": [1, None]}))
        self.assertFalse(self.check(schema, {"n": ["x"]}))

    def test_integer_is_strict(self):
        self.assertTrue(self.check({"type": "integer"}, 1))
        self.assertFalse(self.check({"type": "integer"}, 1.0))
        self.assertFalse(self.check({"type": "integer"}, True))

    def test_nan_is_not_json(self):
        with self.assertRaises(ValueError):
            vr.loads('{"score": NaN}')


class RoutingTest(unittest.TestCase):
    def match(self, path, method):
        spec, template, op = CHECKER._find(vr.split_path(path), method)
        return template, op is not None, spec and spec.name

    def test_literal_beats_parameter(self):
        self.assertEqual(self.match("/collections/aliases", "post")[0],
                         "/collections/aliases")
        self.assertEqual(self.match("/collections/c/points/scroll", "post")[0],
                         "/collections/{collection_name}/points/scroll")
        self.assertEqual(self.match("/collections/c/points/5", "get")[0],
                         "/collections/{collection_name}/points/{id}")

    def test_legacy_paths_use_the_1_18_spec(self):
        template, has, name = self.match("/collections/c/points/search", "post")
        self.assertEqual(template, "/collections/{collection_name}/points/search")
        self.assertTrue(has)
        self.assertEqual(name, "qdrant-openapi-v1.18.x.json")
        self.assertEqual(self.match("/collections/c/points/query", "post")[2],
                         "qdrant-openapi.json")

    def test_path_normalisation(self):
        self.assertEqual(vr.split_path("/collections/a%2Fb/?wait=true"),
                         ["collections", "a/b"])
        self.assertEqual(vr.split_path("/"), [])
        self.assertEqual(vr.split_path("/?x=1"), [])


class CheckTest(unittest.TestCase):
    def test_good_bodies_pass(self):
        for r in GOOD:
            with self.subTest(r=r):
                self.assertEqual(CHECKER.check(r), [])

    def test_unknown_routes_are_skipped(self):
        for r in SKIPPED:
            with self.subTest(r=r):
                self.assertIsNone(CHECKER.check(r))

    def test_bad_bodies_fail_with_reason(self):
        for r, words in BAD:
            with self.subTest(r=r):
                problems = CHECKER.check(r)
                self.assertTrue(problems, "accepted a bad body")
                text = " ".join(problems)
                for w in words:
                    self.assertIn(w, text)


class MainTest(unittest.TestCase):
    def run_main(self, records, *extra):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl",
                                         delete=False) as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
            f.write("\n")
            path = f.name
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), \
                    contextlib.redirect_stderr(io.StringIO()):
                rc = vr.main([path, *extra])
        finally:
            os.unlink(path)
        return rc, out.getvalue()

    def test_all_good(self):
        rc, out = self.run_main(GOOD + SKIPPED)
        self.assertEqual(rc, 0, out)
        self.assertIn(f"{len(GOOD)} responses checked, {len(SKIPPED)} skipped, "
                      "0 mismatches", out)

    def test_every_mismatch_is_listed(self):
        bad = [r for r, _ in BAD]
        rc, out = self.run_main(GOOD + bad)
        self.assertEqual(rc, 1)
        lines = [ln for ln in out.splitlines() if ".jsonl:" in ln]
        flagged = {ln.split(":")[1] for ln in lines}
        expected = {str(len(GOOD) + i + 1) for i in range(len(bad))}
        self.assertEqual(flagged, expected, out)
        self.assertIn("POST /collections/c/points/query -> 200", out)

    def test_empty_log_fails_unless_allowed(self):
        self.assertEqual(self.run_main([])[0], 1)
        self.assertEqual(self.run_main([], "--allow-empty")[0], 0)


if __name__ == "__main__":
    unittest.main(verbosity=1)
