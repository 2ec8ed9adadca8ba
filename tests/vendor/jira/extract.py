"""Rebuild the vendored OpenAPI subsets from Atlassian's full specs.

    python tests/vendor/jira/extract.py /work/shared/jira/openapi

Keeps only the 2xx response schemas of the operations the simulator serves and
the component schemas they reference (transitively).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CLOUD_OPS = [
    ("GET", "/serverInfo"), ("GET", "/myself"), ("GET", "/mypermissions"), ("GET", "/project"), ("GET", "/project/search"),
    ("GET", "/project/{projectIdOrKey}"), ("GET", "/project/{projectIdOrKey}/statuses"),
    ("GET", "/project/{projectIdOrKey}/versions"), ("GET", "/project/{projectIdOrKey}/version"),
    ("POST", "/version"), ("GET", "/issuetype"), ("GET", "/field"), ("GET", "/status"),
    ("GET", "/statuscategory"), ("GET", "/priority"), ("GET", "/resolution"), ("GET", "/user"),
    ("GET", "/user/search"), ("GET", "/user/assignable/search"),
    ("GET", "/issue/createmeta/{projectIdOrKey}/issuetypes"),
    ("GET", "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}"),
    ("POST", "/issue"), ("POST", "/issue/bulk"), ("GET", "/issue/{issueIdOrKey}"),
    ("GET", "/issue/{issueIdOrKey}/transitions"), ("GET", "/issue/{issueIdOrKey}/comment"),
    ("POST", "/issue/{issueIdOrKey}/comment"), ("GET", "/issue/{issueIdOrKey}/comment/{id}"),
    ("POST", "/issue/{issueIdOrKey}/attachments"), ("GET", "/issue/{issueIdOrKey}/properties"),
    ("GET", "/issue/{issueIdOrKey}/properties/{propertyKey}"),
    ("GET", "/issue/{issueIdOrKey}/remotelink"), ("POST", "/issue/{issueIdOrKey}/remotelink"),
    ("GET", "/search/jql"), ("POST", "/search/jql"), ("POST", "/search/approximate-count"),
    ("GET", "/issue/{issueIdOrKey}/changelog"),
    ("GET", "/issue/createmeta"), ("GET", "/attachment/{id}"),
    ("GET", "/issue/{issueIdOrKey}/remotelink/{linkId}"), ("GET", "/version/{id}"),
    ("PUT", "/version/{id}"), ("GET", "/issue/{issueIdOrKey}/editmeta"),
]
DC_OPS = [
    op for op in CLOUD_OPS
    if op[1] not in ("/search/jql", "/search/approximate-count", "/project/search",
                     "/issue/{issueIdOrKey}/changelog", "/issue/createmeta")
    # DC 10.3 declares no response body for PUT /version/{id}: nothing to check there.
    and op != ("PUT", "/version/{id}")
] + [("GET", "/search"), ("POST", "/search")]


def _refs(node: object, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def subset(spec: dict, prefix: str, ops: list[tuple[str, str]], source: str, license_note: str) -> dict:
    operations: dict[str, dict] = {}
    for method, path in ops:
        item = spec["paths"].get(prefix + path)
        if item is None or method.lower() not in item:
            operations[f"{method} {path}"] = {}
            continue
        responses = {}
        for status, answer in item[method.lower()]["responses"].items():
            schema = (answer.get("content") or {}).get("application/json", {}).get("schema")
            if status.startswith("2") and schema:
                responses[status] = schema
        operations[f"{method} {path}"] = responses
    wanted: set[str] = set()
    _refs(operations, wanted)
    schemas: dict[str, dict] = {}
    all_schemas = spec["components"]["schemas"]
    while wanted - set(schemas):
        for name in sorted(wanted - set(schemas)):
            schemas[name] = all_schemas[name]
            _refs(schemas[name], wanted)
    return {
        "_source": source,
        "_license": license_note,
        "operations": operations,
        "components": {"schemas": schemas},
    }


def main(folder: str) -> None:
    base = Path(folder)
    cloud = json.loads((base / "jira-cloud-platform-swagger-v3.v3.json").read_text())
    dc = json.loads((base / "jira-software-dc-10.3-openapi.json").read_text())
    out = subset(
        cloud, "/rest/api/3", CLOUD_OPS,
        f"Atlassian Jira Cloud platform REST API OpenAPI, version {cloud['info']['version']}",
        "Apache-2.0 (Atlassian); see LICENSE in this folder",
    )
    (HERE / "cloud-v3-subset.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    out = subset(
        dc, "/api/2", DC_OPS,
        f"Atlassian Jira Software Data Center REST API OpenAPI, version {dc['info']['version']}",
        "Atlassian's published REST API reference; see LICENSE in this folder",
    )
    (HERE / "dc-10.3-subset.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
