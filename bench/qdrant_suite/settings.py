"""Quiver's stand-in for tests/openapi/helpers/settings.py of Qdrant's REST
suite (bench/qdrant_suite.sh copies it over the suite's own, which needs
schemathesis): where the server is and where the OpenAPI files are."""
import os

QDRANT_HOST = os.environ.get("QDRANT_HOST", "http://localhost:6333")
QDRANT_HOST_HEADERS = os.environ.get("QDRANT_HOST_HEADERS", "{}")
# tests/schema of a Quiver checkout: the 1.19 spec, the 1.18 spec for the
# paths 1.19 dropped, and validate_responses.py.
SCHEMA_DIR = os.environ["QUIVER_SCHEMA_DIR"]
