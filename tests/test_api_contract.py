"""The OpenAPI contract holds for every operation: Schemathesis with its default checks.

Examples are generated from /openapi.json (bounded per operation) and sent to the app in
process, inside the test's rolled-back transaction; every default check — no 5xx,
documented status codes, content types and headers, response bodies matching their
schemas, invalid data refused — must pass.

One default check is refined rather than taken as is: "valid data accepted" expects no 422
for schema-valid input, but some rules cannot be written in JSON Schema (a credit code's
check digit, the LEC table's values, a referenced enterprise that must exist). Here a
schema-valid request may be refused only by such a rule (422 naming the field), never by
the request validation the schema describes (422 with an `errors` list).
"""

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from app.main import create_app
from tests.factories import enterprise_payload


def schema_valid_data_passes_validation(
    _: object, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """Schema-valid input passes request validation: the schema tells the whole truth."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    status = response.status_code
    body = response.json() if status == 422 else {}
    assert status < 500, f"schema-valid request answered {status}"
    assert status != 400, "schema-valid request answered 400"
    assert "errors" not in body, f"schema-valid request failed validation: {body['errors']}"
    assert status != 422 or body.get("field"), "422 must name the field"


OPERATIONS = [
    (method.upper(), path)
    for path, methods in create_app().openapi()["paths"].items()
    for method in methods
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_keeps_its_contract(client: TestClient, method: str, path: str) -> None:
    # One enterprise exists, so item routes also answer 200 for some generated ids.
    assert client.post("/api/enterprises", json=enterprise_payload()).status_code == 201
    app = client.app
    assert isinstance(app, FastAPI)
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def keeps_contract(case: schemathesis.Case) -> None:
        case.call_and_validate(
            excluded_checks=[positive_data_acceptance],
            additional_checks=[schema_valid_data_passes_validation],
        )

    keeps_contract()
