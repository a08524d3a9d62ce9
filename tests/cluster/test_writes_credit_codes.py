"""Issue 17: a credit code names one enterprise in the country on Citus too.

On the cluster the unique index on credit codes holds per county only (it must contain
the distribution column); the enterprise service refuses the same code in another county
(check_credit_code_free, app/sites/service.py) with the single node's 409, on a create, an
edit and a move, and under concurrent writers. The file's name puts it after test_writes.
"""

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.errors import Conflict
from app.sites import service
from app.sites.models import Enterprise
from app.sites.schemas import EnterpriseIn
from tests.cluster.conftest import Twin
from tests.factories import JINFENG, LINGWU, XINGQING, enterprise_payload

# The single node's refusal of a duplicate (tests/test_risk_api.py, app/crud.py).
DUPLICATE = {"detail": "a row with this credit_code already exists", "field": "credit_code"}


def _refusal(answer: Any) -> tuple[int, dict[str, Any]]:
    """Status and body, without the request's id."""
    return answer.status_code, {k: v for k, v in answer.json().items() if k != "request_id"}


def test_the_same_code_in_another_county_is_refused(client: TestClient) -> None:
    first = client.post("/api/enterprises", json=enterprise_payload(XINGQING))
    assert first.status_code == 201, first.text
    code = first.json()["credit_code"]
    again = client.post("/api/enterprises", json=enterprise_payload(LINGWU, credit_code=code))
    assert _refusal(again) == (409, DUPLICATE)
    other = client.post("/api/enterprises", json=enterprise_payload(LINGWU)).json()
    assert other["county_code"] == "640181"
    edited = client.patch(f"/api/enterprises/{other['id']}", json={"credit_code": code})
    assert _refusal(edited) == (409, DUPLICATE)
    # A move into the first one's county with its code: refused too, the row stays put.
    moved = client.patch(
        f"/api/enterprises/{other['id']}",
        json={"lon": XINGQING[0], "lat": XINGQING[1], "credit_code": code},
    )
    assert _refusal(moved) == (409, DUPLICATE)
    assert client.get(f"/api/enterprises/{other['id']}").json()["county_code"] == "640181"
    # A move with its own code, and keeping its code on an edit, are not duplicates.
    moved = client.patch(
        f"/api/enterprises/{other['id']}",
        json={"lon": JINFENG[0], "lat": JINFENG[1], "credit_code": other["credit_code"]},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["county_code"] == "640106"


def test_concurrent_writers_of_one_code_one_wins(twin: Twin) -> None:
    """Two transactions add the same code in two counties at once: the second waits for
    the first's commit on the coordinator's lock, then is refused."""
    scope = Scope(role="admin", write_prefix="")
    first_body = EnterpriseIn(**enterprise_payload(XINGQING))
    code = first_body.credit_code
    second_body = EnterpriseIn(**enterprise_payload(LINGWU, credit_code=code))
    outcome: list[Any] = []

    def second() -> None:
        with Session(twin.cluster) as session:
            try:
                service.create_enterprise(session, body=second_body, scope=scope)
                session.commit()
                outcome.append("created")
            except Conflict as error:
                outcome.append(error.to_dict())

    try:
        with Session(twin.cluster) as session:
            service.create_enterprise(session, body=first_body, scope=scope)
            racer = threading.Thread(target=second)
            racer.start()
            racer.join(timeout=1.5)
            assert racer.is_alive(), "the second writer waits for the first"
            session.commit()
        racer.join(timeout=30)
        assert outcome == [DUPLICATE]
    finally:
        with Session(twin.cluster) as session, session.begin():
            session.execute(delete(Enterprise).where(Enterprise.credit_code == code))
