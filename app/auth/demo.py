"""Demo accounts for every role, created by `riskatlas setup` (so `make run` has them).

admin; nx-official (宁夏 640000), yc-official (银川 640100), ld-official (灵武 640181);
nx-planner (640000); warden-<county>-<n> for each gridded county (its cells split between
two wardens); ent-<id> for the three lowest-id enterprises of each county. All share one
password (`demo_password`, RISKATLAS_DEMO_PASSWORD), printed with the list at set-up.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.auth.models import User
from app.auth.passwords import hash_password

FIXED_ACCOUNTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("admin", "admin", {}),
    ("nx-official", "official", {"region_code": "640000"}),
    ("yc-official", "official", {"region_code": "640100"}),
    ("ld-official", "official", {"region_code": "640181"}),
    ("nx-planner", "planner", {"region_code": "640000"}),
)
# Counties the demo divides into grid cells (metres per cell side), so wardens have cells.
DEMO_GRIDS = {"640104": 1000, "640181": 2000}
WARDENS_PER_COUNTY = 2
ENTERPRISE_ACCOUNTS_PER_COUNTY = 3


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    scope: str


def _warden_accounts(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
    cells: dict[str, list[str]] = {}
    for code, county in session.execute(
        text("SELECT code, county_code FROM grid_cells ORDER BY county_code, code")
    ):
        cells.setdefault(county, []).append(code)
    accounts = []
    for county, codes in cells.items():
        share = -(-len(codes) // WARDENS_PER_COUNTY)
        for n in range(WARDENS_PER_COUNTY):
            if codes[n * share : (n + 1) * share]:
                accounts.append(
                    (
                        f"warden-{county}-{n + 1}",
                        "warden",
                        {"grid_cells": codes[n * share : (n + 1) * share]},
                    )
                )
    return accounts


def _enterprise_accounts(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
    rows = session.execute(
        text("""
        SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY county_code ORDER BY id) AS n
                          FROM enterprises) ranked
         WHERE n <= :per_county ORDER BY id
    """),
        {"per_county": ENTERPRISE_ACCOUNTS_PER_COUNTY},
    ).scalars()
    return [(f"ent-{id}", "enterprise", {"enterprise_id": id}) for id in rows]


def ensure_demo_accounts(session: Session, *, password: str) -> list[DemoAccount]:
    """Create the demo accounts that do not exist yet; return them all."""
    wanted = [*FIXED_ACCOUNTS, *_warden_accounts(session), *_enterprise_accounts(session)]
    existing = set(session.scalars(select(User.username)))
    # One hash for all: the demo accounts share a published password anyway, and hashing
    # each (argon2 is slow on purpose) would add seconds to every set-up.
    password_hash = hash_password(password)
    for username, role, scope in wanted:
        if username not in existing:
            session.add(User(username=username, role=role, password_hash=password_hash, **scope))
    session.flush()
    return [DemoAccount(username, role, _describe(scope)) for username, role, scope in wanted]


def _describe(scope: dict[str, Any]) -> str:
    if "grid_cells" in scope:
        return f"{len(scope['grid_cells'])} grid cells"
    return ", ".join(f"{key} {value}" for key, value in scope.items()) or "everything"
