"""Regenerate openapi/*.json: the operations the client uses, cut from Atlassian's specs.

Run from the repository root with the two full specs at hand:
    python tests/vendor/jira/extract_openapi.py <cloud-v3.json> <dc-10.3.json>
Each output holds, per operation ("METHOD /rest/api/N/path"), the declared query
parameters and the JSON request-body schema, plus every component schema those
reference (so $refs resolve inside the file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CLOUD = [
    ("get", "/rest/api/3/serverInfo"),
    ("get", "/rest/api/3/myself"),
    ("get", "/rest/api/3/mypermissions"),
    ("get", "/rest/api/3/project/{projectIdOrKey}"),
    ("get", "/rest/api/3/issuetype/project"),
    ("get", "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes"),
    ("get", "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}"),
    ("post", "/rest/api/3/issue"),
    ("post", "/rest/api/3/issue/bulk"),
    ("get", "/rest/api/3/issue/{issueIdOrKey}"),
    ("put", "/rest/api/3/issue/{issueIdOrKey}"),
    ("get", "/rest/api/3/issue/{issueIdOrKey}/transitions"),
    ("post", "/rest/api/3/issue/{issueIdOrKey}/transitions"),
    ("put", "/rest/api/3/issue/{issueIdOrKey}/assignee"),
    ("get", "/rest/api/3/issue/{issueIdOrKey}/comment"),
    ("post", "/rest/api/3/issue/{issueIdOrKey}/comment"),
    ("post", "/rest/api/3/issue/{issueIdOrKey}/attachments"),
    ("get", "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}"),
    ("put", "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}"),
    ("get", "/rest/api/3/issue/{issueIdOrKey}/remotelink"),
    ("post", "/rest/api/3/issue/{issueIdOrKey}/remotelink"),
    ("get", "/rest/api/3/user/search"),
    ("get", "/rest/api/3/user/assignable/search"),
    ("get", "/rest/api/3/project/{projectIdOrKey}/versions"),
    ("get", "/rest/api/3/project/{projectIdOrKey}/statuses"),
    ("get", "/rest/api/3/status"),
    ("get", "/rest/api/3/statuscategory"),
    ("post", "/rest/api/3/search/jql"),
    ("post", "/rest/api/3/webhook"),
]
DC = [
    ("get", "/api/2/serverInfo"),
    ("get", "/api/2/myself"),
    ("get", "/api/2/mypermissions"),
    ("get", "/api/2/project/{projectIdOrKey}"),
    ("get", "/api/2/issue/createmeta/{projectIdOrKey}/issuetypes"),
    ("get", "/api/2/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}"),
    ("post", "/api/2/issue"),
    ("post", "/api/2/issue/bulk"),
    ("get", "/api/2/issue/{issueIdOrKey}"),
    ("put", "/api/2/issue/{issueIdOrKey}"),
    ("get", "/api/2/issue/{issueIdOrKey}/transitions"),
    ("post", "/api/2/issue/{issueIdOrKey}/transitions"),
    ("put", "/api/2/issue/{issueIdOrKey}/assignee"),
    ("get", "/api/2/issue/{issueIdOrKey}/comment"),
    ("post", "/api/2/issue/{issueIdOrKey}/comment"),
    ("post", "/api/2/issue/{issueIdOrKey}/attachments"),
    ("get", "/api/2/issue/{issueIdOrKey}/properties/{propertyKey}"),
    ("put", "/api/2/issue/{issueIdOrKey}/properties/{propertyKey}"),
    ("get", "/api/2/issue/{issueIdOrKey}/remotelink"),
    ("post", "/api/2/issue/{issueIdOrKey}/remotelink"),
    ("get", "/api/2/user/search"),
    ("get", "/api/2/user/assignable/search"),
    ("get", "/api/2/project/{projectIdOrKey}/versions"),
    ("get", "/api/2/project/{projectIdOrKey}/statuses"),
    ("get", "/api/2/status"),
    ("get", "/api/2/statuscategory"),
    ("post", "/api/2/search"),
]


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


def extract(spec: dict, ops: list[tuple[str, str]], prefix: str, source: str) -> dict:
    out: dict = {"_source": source, "operations": {}, "components": {"schemas": {}}}
    wanted: set[str] = set()
    for method, path in ops:
        op = spec["paths"][path][method]
        params = spec["paths"][path].get("parameters", []) + op.get("parameters", [])
        body = (op.get("requestBody") or {}).get("content", {})
        entry = {
            "query": sorted(p["name"] for p in params if p.get("in") == "query"),
            "content_types": sorted(body),
        }
        if "application/json" in body:
            entry["body_schema"] = body["application/json"].get("schema", {})
        _refs(entry, wanted)
        out["operations"][f"{method.upper()} {prefix}{path}"] = entry
    schemas = spec["components"]["schemas"]
    done: set[str] = set()
    while wanted - done:
        name = sorted(wanted - done)[0]
        done.add(name)
        out["components"]["schemas"][name] = schemas[name]
        _refs(schemas[name], wanted)
    return out


def main() -> None:
    cloud = json.loads(Path(sys.argv[1]).read_text())
    dc = json.loads(Path(sys.argv[2]).read_text())
    here = Path(__file__).parent / "openapi"
    (here / "cloud-v3-client-operations.json").write_text(
        json.dumps(extract(cloud, CLOUD, "", f"Atlassian Jira Cloud platform OpenAPI {cloud['info']['version']}"), indent=1, sort_keys=True)
    )
    (here / "dc-10.3-client-operations.json").write_text(
        json.dumps(extract(dc, DC, "/rest", f"Atlassian Jira Software Data Center OpenAPI {dc['info']['version']}"), indent=1, sort_keys=True)
    )


if __name__ == "__main__":
    main()
