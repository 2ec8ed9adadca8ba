"""One problem+json builder, one ``type`` scheme, for the API and the intake alike."""

from __future__ import annotations

import json

from syncengine.errors import StoreBusy, StoreRejected
from syncengine.ingest.problems import PROBLEM_TYPE_PREFIX, RequestProblem, TokenMissing
from syncengine.web.ingest_problems import problem_response, store_unavailable
from syncengine.web.problem_documents import problem, problem_document, status_kind


def _body(response: object) -> dict[str, object]:
    body = json.loads(response.body)  # type: ignore[attr-defined]
    assert isinstance(body, dict)
    return body


def test_a_status_alone_names_its_kind() -> None:
    assert status_kind(404) == "not-found"
    assert status_kind(409) == "conflict"
    answer = problem(404, "no group 7 in project shop")
    assert answer.media_type == "application/problem+json"
    assert _body(answer) == {
        "type": "urn:syncengine:problem:not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "no group 7 in project shop",
    }


def test_a_named_kind_and_extra_members() -> None:
    body = problem_document(422, "bad rule", kind="invalid-rule", problems=["rule[0]: unknown"])
    assert body["type"] == "urn:syncengine:problem:invalid-rule"
    assert body["problems"] == ["rule[0]: unknown"]


def test_the_intake_answers_with_the_same_builder() -> None:
    refused = problem_response(
        RequestProblem("not JSON", kind="invalid-json", title="Invalid JSON")
    )
    assert _body(refused) == problem_document(
        400, "not JSON", kind="invalid-json", title="Invalid JSON"
    )
    unauthorized = problem_response(TokenMissing())
    assert unauthorized.headers["www-authenticate"].startswith("Bearer")
    for answer in (
        refused,
        unauthorized,
        store_unavailable(StoreBusy("locked")),
        store_unavailable(StoreRejected("surrogate")),
        problem(403, "not allowed"),
    ):
        assert str(_body(answer)["type"]).startswith(PROBLEM_TYPE_PREFIX)
