"""Issue 10: accounts — sign-in, tokens, throttling, revocation, users API and command line."""

import os
import subprocess
import sys
import time

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.auth import tokens
from tests.conftest import PUBLIC, TEST_PASSWORD


def _sign_in(client: TestClient, username: str, password: str = TEST_PASSWORD):
    return client.post(
        "/api/auth/token", data={"username": username, "password": password}, headers=PUBLIC
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_sign_in_gives_tokens_and_me_shows_the_scope(client, make_user) -> None:
    make_user("official", username="yc-test", region_code="640100", department="交通运输")
    response = _sign_in(client, "yc-test")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 30 * 60
    me = client.get("/api/auth/me", headers=_bearer(body["access_token"])).json()
    assert me == {
        "username": "yc-test",
        "role": "official",
        "display_name": None,
        "scope": {
            "region": "640100",
            "sectors": ["道路运输"],
            "department": "交通运输",
            "grid_cells": [],
            "enterprise_id": None,
        },
    }
    assert client.get("/api/auth/me", headers=PUBLIC).json()["role"] == "public"


def test_passwords_are_stored_as_argon2id(client, session: Session) -> None:
    created = client.post(
        "/api/users", json={"username": "hashed", "password": "s3cret-pass", "role": "admin"}
    )
    assert created.status_code == 201 and "password" not in created.text
    stored = session.execute(text("SELECT password_hash FROM users WHERE username = 'hashed'"))
    assert stored.scalar_one().startswith("$argon2id$")
    assert _sign_in(client, "hashed", "s3cret-pass").status_code == 200


@pytest.mark.parametrize(
    ("username", "password"), [("nobody", TEST_PASSWORD), ("wrong-pass", "not-the-password")]
)
def test_wrong_credentials_get_401(client, make_user, username: str, password: str) -> None:
    make_user("admin", username="wrong-pass")
    response = _sign_in(client, username, password)
    assert response.status_code == 401 and response.json()["field"] == "password"


def test_repeated_failures_are_throttled(client, make_user) -> None:
    make_user("admin", username="target")
    for _ in range(5):
        assert _sign_in(client, "target", "guess-guess").status_code == 401
    throttled = _sign_in(client, "target")  # even the right password, for a while
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0


def test_expired_and_tampered_tokens_get_401(client, make_user) -> None:
    make_user("admin", username="tokens")
    access = _sign_in(client, "tokens").json()["access_token"]
    claims = jwt.decode(access, options={"verify_signature": False})
    expired = jwt.encode(
        {**claims, "exp": int(time.time()) - 5}, tokens.signing_key(), algorithm="HS256"
    )
    response = client.get("/api/auth/me", headers=_bearer(expired))
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    forged = jwt.encode(
        {**claims, "sub": "1"}, "another key of thirty-two bytes!", algorithm="HS256"
    )
    assert client.get("/api/auth/me", headers=_bearer(forged)).status_code == 401
    refresh = _sign_in(client, "tokens").json()["refresh_token"]
    assert client.get("/api/auth/me", headers=_bearer(refresh)).status_code == 401


def test_refresh_and_revocation(client, make_user) -> None:
    make_user("official", username="rotating", region_code="640000")
    pair = _sign_in(client, "rotating").json()
    renewed = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200 and renewed.json()["access_token"]
    user = next(u for u in client.get("/api/users").json() if u["username"] == "rotating")
    changed = client.patch(f"/api/users/{user['id']}", json={"password": "new-password-2"})
    assert changed.status_code == 200
    assert client.get("/api/auth/me", headers=_bearer(pair["access_token"])).status_code == 401
    again = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401 and again.json()["field"] == "refresh_token"
    fresh = _sign_in(client, "rotating", "new-password-2").json()
    client.patch(f"/api/users/{user['id']}", json={"disabled": True})
    assert client.get("/api/auth/me", headers=_bearer(fresh["access_token"])).status_code == 401
    assert _sign_in(client, "rotating", "new-password-2").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "chief"}, "role"),
        ({"role": "official", "region_code": "999999"}, "region_code"),
        ({"role": "official", "region_code": "640000", "department": "外交"}, "department"),
        ({"role": "warden", "grid_cells": ["no-such-cell"]}, "grid_cells"),
        ({"role": "enterprise", "enterprise_id": 2147483000}, "enterprise_id"),
        ({"role": "admin", "password": "short"}, "password"),
    ],
)
def test_bad_user_input_is_named_and_nothing_is_written(client, body: dict, field: str) -> None:
    before = len(client.get("/api/users").json())
    response = client.post(
        "/api/users", json={"username": "new-user", "password": "long-enough", **body}
    )
    assert response.status_code == 422 and response.json()["field"] == field, response.text
    assert len(client.get("/api/users").json()) == before


def test_only_admins_manage_users(client, make_user) -> None:
    assert client.get("/api/users", headers=PUBLIC).status_code == 401
    official = make_user("official", region_code="640000")
    assert client.get("/api/users", headers=official).status_code == 403
    assert (
        client.post(
            "/api/users",
            headers=official,
            json={"username": "sneaky", "password": "long-enough", "role": "admin"},
        ).status_code
        == 403
    )


def test_stale_user_edit_gets_409(client) -> None:
    user = client.post(
        "/api/users", json={"username": "edited", "password": "long-enough", "role": "admin"}
    ).json()
    url = f"/api/users/{user['id']}"
    assert client.patch(url, json={"display_name": "甲", "version": 1}).status_code == 200
    stale = client.patch(url, json={"display_name": "乙"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409 and stale.json()["current_version"] == 2


def test_command_line_manages_users(owner_engine: Engine, database_urls) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_urls[0],
        "RISKATLAS_OWNER_DATABASE_URL": database_urls[1],
    }

    def riskatlas(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", "users", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    try:
        riskatlas(
            "create",
            "cli-planner",
            "--role",
            "planner",
            "--region",
            "640100",
            "--password",
            "cli-password-1",
        )
        assert "cli-planner" in riskatlas("list")
        riskatlas("set-password", "cli-planner", "--password", "cli-password-2")
        riskatlas("disable", "cli-planner")
        with owner_engine.connect() as connection:
            disabled, version = connection.execute(
                text("SELECT disabled, token_version FROM users WHERE username = 'cli-planner'")
            ).one()
            actors = (
                connection.execute(
                    text(
                        "SELECT DISTINCT username FROM audit_log WHERE table_name = 'users' "
                        "AND after ->> 'username' = 'cli-planner'"
                    )
                )
                .scalars()
                .all()
            )
        assert disabled and version == 2
        assert all(actor.startswith("cli:") for actor in actors) and actors
    finally:
        with owner_engine.begin() as connection:
            connection.execute(text("DELETE FROM users WHERE username = 'cli-planner'"))
