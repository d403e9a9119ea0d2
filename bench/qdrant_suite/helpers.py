"""Quiver's shim for tests/openapi/helpers/helpers.py of Qdrant's REST suite
(bench/qdrant_suite.sh copies it over the suite's own).

Qdrant's helper validates requests and responses with schemathesis, which
Debian does not package.  This one keeps the call shape the tests use,
`request_with_validation(api, method, path_params, query_params, body)`,
and checks the same three things with jsonschema through Quiver's own
validator (tests/schema/validate_responses.py): the request body against
the operation's requestBody schema (a jsonschema ValidationError, as
schemathesis raises), the path and query parameter names against the
operation, and the response's status and body against the operation's
responses (an AssertionError naming the mismatch, as schemathesis'
CheckFailed).  Paths Qdrant 1.19 dropped from its spec (legacy search,
recommend, groups, discover) are looked up in the 1.18 spec, as the
validator does.  The fusion helpers are written from their definitions
(RRF with k = 2; DBSF with mean +- 3 sigma normalisation).
"""
import json
import os
import sys
import warnings
from functools import lru_cache
from typing import Any, Dict, List

import jsonschema
import requests

from .settings import QDRANT_HOST, QDRANT_HOST_HEADERS, SCHEMA_DIR

sys.path.insert(0, SCHEMA_DIR)
import validate_responses as _vr  # noqa: E402

_CHECKER = _vr.Checker(os.path.join(SCHEMA_DIR, "qdrant-openapi.json"),
                       os.path.join(SCHEMA_DIR, "qdrant-openapi-v1.18.x.json"))


def _operation(api, method):
    m = method.lower()
    for spec in _CHECKER.specs:
        if api in spec.paths and m in spec.paths[api]:
            return spec, spec.paths[api][m]
    raise KeyError(f"{method} {api} is in neither spec")


def get_api_string(host, api, path_params):
    return f"{host}{api}".format(**path_params)


@lru_cache
def qdrant_host_headers():
    return json.loads(QDRANT_HOST_HEADERS)


def _params(op, where):
    return [p for p in op.get("parameters", []) if p.get("in") == where]


def request_with_validation(api: str, method: str, path_params: dict = None,
                            query_params: dict = None, body: dict = None,
                            validate: bool = True) -> requests.Response:
    spec, op = _operation(api, method)
    if body and validate:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        err = jsonschema.exceptions.best_match(spec.validator(schema).iter_errors(body))
        if err is not None:
            raise err
    path_params = path_params or {}
    query_params = query_params or {}
    pnames = {p["name"] for p in _params(op, "path")}
    qnames = {p["name"] for p in _params(op, "query")}
    for p in _params(op, "path"):
        if p.get("required"):
            assert p["name"] in path_params
    for p in _params(op, "query"):
        if p.get("required"):
            assert p["name"] in query_params
    for k in path_params:
        assert k in pnames
    for k in query_params:
        assert k in qnames
    action = getattr(requests, method.lower(), None)
    if not action:
        raise RuntimeError(f"Method {method} does not exists")
    if api.endswith("/delete") and method == "POST" and "wait" not in query_params:
        warnings.warn(f"Delete call for {api} missing wait=true param, adding it")
        query_params["wait"] = "true"
    url = get_api_string(QDRANT_HOST, api, path_params)
    response = action(url=url, params=query_params, json=body, headers=qdrant_host_headers())
    ctype = response.headers.get("content-type", "")
    rbody = response.text
    if "json" in ctype:
        try:
            rbody = _vr.loads(response.text)
        except ValueError:
            pass
    path = api.format(**{k: str(v).replace("/", "%2F") for k, v in path_params.items()})
    problems = validate and _CHECKER.check({"method": method, "path": path,
                               "status": response.status_code, "body": rbody})
    if problems:
        raise AssertionError(f"response validation failed for {method} {api} "
                             f"{response.status_code}: {problems}; body: {response.text[:300]}")
    return response


def reciprocal_rank_fusion(responses: List[List[Any]], limit: int = 10) -> List[Any]:
    scores: Dict[Any, float] = {}
    first: Dict[Any, Any] = {}
    for resp in responses:
        for rank, p in enumerate(resp):
            first.setdefault(p["id"], p)
            scores[p["id"]] = scores.get(p["id"], 0.0) + 1.0 / (2 + rank)
    out = []
    for pid, s in sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:limit]:
        p = first[pid]
        p["score"] = s
        out.append(p)
    return out


def distribution_based_score_fusion(responses: List[List[Any]], limit: int = 10) -> List[Any]:
    merged: Dict[Any, Any] = {}
    for resp in responses:
        n = len(resp)
        mean = sum(p["score"] for p in resp) / n
        var = sum((p["score"] - mean) ** 2 for p in resp) / (n - 1)
        lo, hi = mean - 3 * var ** 0.5, mean + 3 * var ** 0.5
        for p in resp:
            p["score"] = (p["score"] - lo) / (hi - lo)
            if p["id"] in merged:
                merged[p["id"]]["score"] += p["score"]
            else:
                merged[p["id"]] = p
    return sorted(merged.values(), key=lambda p: p["score"], reverse=True)[:limit]
