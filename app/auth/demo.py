"""Demo accounts for every role, created by `riskatlas setup` (so `make run` has them).

admin; nx-official (宁夏 640000), yc-official (银川 640100), ld-official (灵武 640181);
nx-planner (640000); inspector-<region>-<n>, officials who make up the spot-check
inspector pools (双随机: two per target), three for each city and county with enterprises;
warden-<county>-<n> for each gridded county (its cells split between two wardens, each cell
named after its warden); ent-<id> for the three lowest-id enterprises of each county. All
share one password (`demo_password`, RISKATLAS_DEMO_PASSWORD), printed with the list at
set-up. People (officials, the planner, inspectors, wardens) have distinct Chinese display
names: a spot-check draw publishes inspectors by display name and tells a cell's warden
from the inspectors by it.
"""

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.auth.models import User
from app.auth.passwords import hash_password
from app.sites.demo import People

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
INSPECTORS_PER_REGION = 3
# Display names are drawn from this seed in the order of the accounts: the same every set-up.
NAME_SEED = "demo-accounts"
# Roles of people with a name; the admin and enterprise accounts are no one in particular.
NAMED_ROLES = ("official", "planner", "warden")


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    scope: str
    display_name: str


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


def _inspector_accounts(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
    """INSPECTORS_PER_REGION officials for each county with enterprises and for its city."""
    regions = session.scalars(
        text("""
        SELECT r.code FROM regions r
         WHERE r.code IN (SELECT DISTINCT county_code FROM enterprises)
        UNION
        SELECT p.code FROM regions r JOIN regions p ON p.code = r.parent_code
         WHERE r.code IN (SELECT DISTINCT county_code FROM enterprises) AND p.level = 'city'
        ORDER BY 1""")
    )
    return [
        (f"inspector-{code}-{n}", "official", {"region_code": code})
        for code in regions
        for n in range(1, INSPECTORS_PER_REGION + 1)
    ]


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


def _display_names(usernames: list[str], taken: set[str]) -> dict[str, str]:
    """A distinct Chinese name for each username, not among `taken`, the same every run."""
    people = People(random.Random(NAME_SEED))
    names: dict[str, str] = {}
    for username in usernames:
        name = people.name()
        while name in taken:
            name = people.name()
        taken.add(name)
        names[username] = name
    return names


def _name_cells(session: Session, wardens: list[tuple[str, list[str]]]) -> None:
    """Name each warden's grid cells after the warden (cells already named keep theirs)."""
    codes = [code for _, cells in wardens for code in cells]
    names = [name for name, cells in wardens for _ in cells]
    session.execute(
        text("""
        UPDATE grid_cells g SET warden_name = w.name
          FROM unnest(CAST(:codes AS text[]), CAST(:names AS text[])) AS w(code, name)
         WHERE g.code = w.code AND g.warden_name IS NULL"""),
        {"codes": codes, "names": names},
    )


def ensure_demo_accounts(session: Session, *, password: str) -> list[DemoAccount]:
    """Create the demo accounts that do not exist yet (and name the people among them
    who have no display name yet, and the wardens' grid cells); return them all."""
    wanted = [
        *FIXED_ACCOUNTS,
        *_inspector_accounts(session),
        *_warden_accounts(session),
        *_enterprise_accounts(session),
    ]
    existing = {user.username: user for user in session.scalars(select(User))}
    taken = {user.display_name for user in existing.values() if user.display_name}
    names = _display_names(
        [
            username
            for username, role, _ in wanted
            if role in NAMED_ROLES
            and (username not in existing or not existing[username].display_name)
        ],
        taken,
    )
    # One hash for all: the demo accounts share a published password anyway, and hashing
    # each (argon2 is slow on purpose) would add seconds to every set-up.
    password_hash = hash_password(password)
    for username, role, scope in wanted:
        if username not in existing:
            session.add(
                User(
                    username=username,
                    role=role,
                    password_hash=password_hash,
                    display_name=names.get(username),
                    **scope,
                )
            )
        elif username in names:
            existing[username].display_name = names[username]
    session.flush()
    shown = {u: user.display_name for u, user in existing.items() if user.display_name} | names
    _name_cells(
        session,
        [
            (shown[username], scope["grid_cells"])
            for username, role, scope in wanted
            if role == "warden" and username in shown
        ],
    )
    return [
        DemoAccount(username, role, _describe(scope), shown.get(username, ""))
        for username, role, scope in wanted
    ]


def _describe(scope: dict[str, Any]) -> str:
    if "grid_cells" in scope:
        return f"{len(scope['grid_cells'])} grid cells"
    return ", ".join(f"{key} {value}" for key, value in scope.items()) or "everything"
