#!/usr/bin/python3
"""Validate recorded HTTP responses against Qdrant's OpenAPI contract.

Input: one or more JSONL files, one response per line:
    {"method": "POST", "path": "/collections/c/points/query?x=1",
     "status": 200, "body": <JSON value>, "content_type": "..."}
`body` is the parsed JSON body, or the raw text when the body is not JSON
(a JSON body recorded as a string is parsed when the operation's response
is JSON).  `content_type` is optional.  The server's C integration test
writes such a file when QUIVER_RESPONSE_LOG is set, and so do the client
tests in tests/clients.

Each line is checked like this:
  1. the concrete path (query string dropped, trailing slash trimmed,
     segments percent-decoded) is matched to a path template of
     qdrant-openapi.json (Qdrant 1.19); literal segments beat "{param}"
     ones, as Qdrant's router does.  Paths that 1.19 dropped from its spec
     but still serves (the legacy search/recommend/discover endpoints) are
     matched against qdrant-openapi-v1.18.x.json;
  2. the operation is picked by method and the response by status code,
     then by its class ("4XX"), then "default";
  3. the body is validated with the response's application/json schema;
     $ref is resolved against the whole document.

OpenAPI 3.0 is not JSON Schema, so each schema is translated first:
`nullable: true` means "or null" (a bare `{"nullable": true}`, which
Qdrant's generator puts in `anyOf: [{$ref}, {nullable: true}]`, means
"null"); `format`, `example` and `deprecated` are annotations and are
dropped; the rest is JSON Schema draft 4 (OpenAPI 3.0's base), so an
"integer" must be written without a fraction.

Not checked, on purpose: OPTIONS/HEAD (CORS preflight), requests to paths
outside the spec that were refused with 404/405 (unknown routes), and 401
or 403 answers with a plain-text body (Qdrant's authentication layer
answers in plain text before its API layer, unlike its spec's "4XX").

Exit status: 0 when every response matches, 1 on any mismatch (each one
listed with its line, method, path, status and a short reason), 2 on
usage or input errors.
"""

import argparse
import json
import os
import sys
import urllib.parse

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SPEC = os.path.join(HERE, "qdrant-openapi.json")
DEFAULT_LEGACY = os.path.join(HERE, "qdrant-openapi-v1.18.x.json")

# Keywords whose value is a schema, a list of schemas or a map of them.
_SUB_SCHEMA = ("items", "not", "additionalProperties")
_SUB_LIST = ("anyOf", "oneOf", "allOf")
_SUB_MAP = ("properties",)
_ANNOTATIONS = ("format", "example", "deprecated", "nullable")
_SHAPE = ("type", "$ref", "anyOf", "oneOf", "allOf", "enum", "properties",
          "items", "not", "additionalProperties", "required")
_METHODS = ("get", "put", "post", "delete", "patch", "options", "head")


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def loads(text):
    """json.loads that refuses NaN and Infinity, which are not JSON."""
    return json.loads(text, parse_constant=_reject_constant)


def translate(schema):
    """An OpenAPI 3.0 schema object as a JSON Schema draft 4 schema."""
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key in _SUB_SCHEMA:
            out[key] = translate(value)
        elif key in _SUB_LIST:
            out[key] = [translate(s) for s in value]
        elif key in _SUB_MAP:
            out[key] = {k: translate(s) for k, s in value.items()}
        else:
            out[key] = value
    if schema.get("nullable") is True:
        if not any(k in out for k in _SHAPE):
            return {"type": "null"}
        return {"anyOf": [out, {"type": "null"}]}
    return out


class Spec:
    """One OpenAPI document: its path templates and translated schemas."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        self.name = os.path.basename(path)
        self.paths = doc.get("paths", {})
        schemas = doc.get("components", {}).get("schemas", {})
        self.components = {
            "schemas": {k: translate(v) for k, v in schemas.items()}}
        self.templates = [(t, t.strip("/").split("/") if t != "/" else [])
                          for t in self.paths]

    def match(self, segments, method):
        """The best template for the segments: (template, operation).

        Among templates of the same length whose literal segments agree,
        the one with the most literal segments wins, preferring one that
        has the method; operation is None if none has it."""
        best = None
        for template, parts in self.templates:
            if len(parts) != len(segments):
                continue
            literals = 0
            for p, s in zip(parts, segments):
                if p.startswith("{") and p.endswith("}"):
                    if s == "":
                        break
                elif p == s:
                    literals += 1
                else:
                    break
            else:
                has = method in self.paths[template]
                key = (has, literals)
                if best is None or key > best[0]:
                    best = (key, template)
        if best is None:
            return None, None
        template = best[1]
        return template, self.paths[template].get(method)

    def validator(self, schema):
        root = {"allOf": [translate(schema)], "components": self.components}
        return jsonschema.Draft4Validator(root)


def split_path(path):
    path = urllib.parse.urlsplit(path).path
    if len(path) > 1:
        path = path.rstrip("/")
    if path in ("", "/"):
        return []
    return [urllib.parse.unquote(s) for s in path.strip("/").split("/")]


def pick_response(op, status):
    responses = op.get("responses", {})
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            return key, responses[key]
    return None, None


def short(error):
    where = "/".join(str(p) for p in error.absolute_path) or "(body)"
    msg = error.message
    if error.context:  # anyOf/oneOf: say why the likeliest branch failed
        best = jsonschema.exceptions.best_match(error.context)
        msg += f" (e.g. {best.message})"
    if len(msg) > 200:
        msg = msg[:200] + "..."
    return f"at {where}: {msg}"


class Checker:
    def __init__(self, spec_path=DEFAULT_SPEC, legacy_path=DEFAULT_LEGACY):
        self.specs = [Spec(spec_path)]
        if legacy_path:
            self.specs.append(Spec(legacy_path))
        self._validators = {}

    def _find(self, segments, method):
        fallback = (None, None, None)
        for spec in self.specs:
            template, op = spec.match(segments, method)
            if op is not None:
                return spec, template, op
            if template is not None and fallback[1] is None:
                fallback = (spec, template, None)
        return fallback

    def check(self, rec):
        """Problems with one record (a list of strings); None if skipped."""
        method = str(rec.get("method", "")).lower()
        path = rec.get("path")
        status = rec.get("status")
        if method not in _METHODS or not isinstance(path, str) \
                or not isinstance(status, int):
            return ["record needs method, path and an integer status"]
        if "body" not in rec:
            return ["record has no body"]
        body = rec["body"]
        if method in ("options", "head"):
            return None
        spec, template, op = self._find(split_path(path), method)
        if template is None or op is None:
            if status in (404, 405):
                return None  # an unknown route, refused: outside the spec
            if template is None:
                return ["path matches no path of the spec"]
            return [f"{method.upper()} is not an operation of {template}"]
        key, response = pick_response(op, status)
        if response is None:
            return [f"status {status} is not documented for "
                    f"{method.upper()} {template}"]
        content = response.get("content", {})
        if status in (401, 403) and isinstance(body, str):
            return []
        if "application/json" in content:
            schema = content["application/json"].get("schema", {})
            if isinstance(body, str):
                try:
                    body = loads(body)
                except ValueError:
                    return [f"body is not JSON ({template} {key} wants "
                            f"JSON): {body[:80]!r}"]
            vkey = (spec.name, template, method, key)
            if vkey not in self._validators:
                self._validators[vkey] = spec.validator(schema)
            errors = sorted(self._validators[vkey].iter_errors(body),
                            key=lambda e: (len(e.absolute_path), e.message))
            return [f"{template} {key}: {short(e)}" for e in errors[:5]]
        if "text/plain" in content:
            if not isinstance(body, str):
                return [f"{template} {key} is text/plain, body is JSON"]
            return []
        return []  # no content described (e.g. binary snapshots)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("logs", nargs="+", help="JSONL files of responses")
    ap.add_argument("--spec", default=DEFAULT_SPEC)
    ap.add_argument("--legacy-spec", default=DEFAULT_LEGACY)
    ap.add_argument("--allow-empty", action="store_true",
                    help="do not fail when the logs hold no response")
    args = ap.parse_args(argv)

    checker = Checker(args.spec, args.legacy_spec)
    checked = skipped = 0
    mismatches = []
    for log in args.logs:
        try:
            f = open(log, encoding="utf-8")
        except OSError as e:
            print(f"validate_responses: {e}", file=sys.stderr)
            return 2
        with f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{log}:{n}"
                try:
                    rec = loads(line)
                except ValueError as e:
                    mismatches.append(f"{where}: not a JSON line: {e}")
                    continue
                if not isinstance(rec, dict):
                    mismatches.append(f"{where}: not a JSON object")
                    continue
                problems = checker.check(rec)
                if problems is None:
                    skipped += 1
                    continue
                checked += 1
                head = f"{where}: {str(rec.get('method')).upper()} " \
                       f"{rec.get('path')} -> {rec.get('status')}"
                for p in problems:
                    mismatches.append(f"{head}: {p}")
    for m in mismatches:
        print(m)
    print(f"validate_responses: {checked} responses checked, "
          f"{skipped} skipped, {len(mismatches)} mismatches")
    if checked == 0 and not args.allow_empty:
        print("validate_responses: no response to check", file=sys.stderr)
        return 1
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
