"""Who may see and change what: the one scope applied on every read and write path.

A `Scope` is built once per request from the signed-in user (or is the public scope). Every
path asks it:

- `require_read(table)` / `require_write(table)`: may this role read / write the kind at
  all (401 for the public, 403 for a signed-in role without the right)?
- `filters(...)`: the row filters of a read — the county-code prefix of the user's region
  and the request's own `region=`, the sectors of the user's department, the user's
  enterprise, colours, update time and the blacklist — as SQL clauses with bound parameters, shared by
  REST lists and items, tiles, GeoJSON, OGC API, search, heat and exports;
- `check_written(...)`: after a write, is the row (where the database placed it) inside
  what the user may write? (403 naming the field, the transaction is rolled back.)

Region aggregates (choropleth, per-region counts, trends) are public: they name no
enterprise. Located rows are not.
"""

import csv
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import TextClause, text

from app.blacklist.models import in_force_sql
from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.risk.methods import LEVELS
from app.settings import GEODATA_DIR

ROLES = ("admin", "official", "warden", "enterprise", "planner")
PUBLIC = "public"

LOCATED_TABLES = frozenset(
    {
        "enterprises",
        "hazard_sources",
        "public_zones",
        "risk_points",
        "emergency_resources",
        "hidden_dangers",
    }
)

# Which kinds of located rows each role reads and writes (inside its region / enterprise).
# Chemical parks (化工园区) are areas every government role reads; officials maintain them.
PARKS = frozenset({"chemical_parks"})
READABLE: dict[str, frozenset[str]] = {
    "admin": LOCATED_TABLES | PARKS,
    "official": LOCATED_TABLES | PARKS,
    # Wardens read everything in their county: nearby risks cross cell borders.
    "warden": LOCATED_TABLES | PARKS,
    "enterprise": frozenset({"enterprises", "hazard_sources", "risk_points", "hidden_dangers"}),
    # Planners check setbacks: hazard sources and what they must be kept away from.
    "planner": frozenset({"hazard_sources", "public_zones", "emergency_resources"}) | PARKS,
    PUBLIC: frozenset(),
}
WRITABLE: dict[str, frozenset[str]] = {
    "admin": LOCATED_TABLES | PARKS,
    "official": LOCATED_TABLES | PARKS,
    # Hidden dangers found on patrol, inside the warden's grid cells (`check_written`).
    "warden": frozenset({"hidden_dangers"}),
    "enterprise": frozenset({"hazard_sources", "risk_points", "hidden_dangers"}),
    "planner": frozenset(),
    PUBLIC: frozenset(),
}

# SQL (over alias {t}) giving the enterprise a row belongs to, and its sector.
ENTERPRISE_OF = {
    "enterprises": "{t}.id",
    "hazard_sources": "{t}.enterprise_id",
    "risk_points": "{t}.enterprise_id",
    "hidden_dangers": "{t}.enterprise_id",
}
SECTOR_OF = {
    "enterprises": "{t}.sector",
    **{
        table: "(SELECT e.sector FROM enterprises e WHERE e.id = {t}.enterprise_id)"
        for table in ("hazard_sources", "risk_points", "hidden_dangers")
    },
}

NO_MATCH_PREFIX = "-"  # a county-code prefix no region has: nothing matches


def region_prefix(code: str) -> str:
    """The county-code prefix of everything at or below a region (GB/T 2260 structure).

    A province covers its two-digit prefix, a city its four digits, a county itself:
    120110 (东丽区) is not a prefix of 120111 (西青区), whatever its trailing zero.
    """
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


@cache
def department_sectors() -> dict[str, tuple[str, ...] | None]:
    """Department → the sectors it supervises (None: all), from geodata/auth/departments.csv."""
    with (GEODATA_DIR / "auth" / "departments.csv").open(encoding="utf-8") as file:
        return {
            row["department"]: None if row["sectors"] == "*" else tuple(row["sectors"].split(";"))
            for row in csv.DictReader(file)
        }


@dataclass(frozen=True)
class RowFilters:
    """The filters of one read: the scope's limits narrowed by the request's own filters."""

    table: str
    code_prefix: str = ""
    sectors: tuple[str, ...] | None = None
    enterprise_id: int | None = None
    levels: tuple[str, ...] | None = None
    updated_since: datetime | None = None
    # Only rows of enterprises on the blacklist in force on this date (None: no filter).
    blacklisted_on: date | None = None
    scope_key: str = PUBLIC

    def cache_key(self) -> str:
        """A stable text form (tile ETags and caches are per scope and filters)."""
        since = self.updated_since.isoformat() if self.updated_since else ""
        listed = self.blacklisted_on.isoformat() if self.blacklisted_on else ""
        return (
            f"{self.scope_key}|{self.levels}|{self.sectors}|{self.code_prefix}|"
            f"{self.enterprise_id}|{since}|{listed}"
        )

    def params(self) -> dict[str, object]:
        """The filters as bound SQL parameters."""
        return {
            "levels": list(self.levels) if self.levels else None,
            "sectors": list(self.sectors) if self.sectors is not None else None,
            "code_prefix": self.code_prefix + "%",
            "updated_since": self.updated_since,
            "enterprise_id": self.enterprise_id,
            "blacklisted_on": self.blacklisted_on,
        }

    def clauses(self, alias: str = "t", *, has_level: bool = True) -> list[str]:
        """SQL conditions over `alias`, the same text for every filter of a table (so the
        statements can be cached); the values are bound parameters (`params`)."""
        clauses = [
            f"{alias}.county_code LIKE :code_prefix",
            f"(CAST(:updated_since AS timestamptz) IS NULL"
            f" OR {alias}.updated_at >= CAST(:updated_since AS timestamptz))",
        ]
        if has_level:
            clauses.append(
                f"(CAST(:levels AS text[]) IS NULL"
                f" OR {alias}.risk_level = ANY(CAST(:levels AS text[])))"
            )
        if self.table in SECTOR_OF:
            clauses.append(
                f"(CAST(:sectors AS text[]) IS NULL"
                f" OR {SECTOR_OF[self.table].format(t=alias)}"
                f" = ANY(CAST(:sectors AS text[])))"
            )
        if self.table in ENTERPRISE_OF:
            enterprise = ENTERPRISE_OF[self.table].format(t=alias)
            clauses.append(
                f"(CAST(:enterprise_id AS integer) IS NULL"
                f" OR {enterprise} = CAST(:enterprise_id AS integer))"
            )
            clauses.append(
                f"(CAST(:blacklisted_on AS date) IS NULL"
                f" OR {in_force_sql(enterprise, 'CAST(:blacklisted_on AS date)')})"
            )
        else:  # an enterprise account sees nothing of kinds that belong to no enterprise
            clauses.append("CAST(:enterprise_id AS integer) IS NULL")
        return clauses

    def where(self, alias: str = "t", *, has_level: bool = True) -> str:
        """`clauses` joined with AND."""
        return " AND ".join(self.clauses(alias, has_level=has_level))

    def condition(self, alias: str = "t", *, has_level: bool = True) -> TextClause:
        """`where` as a SQLAlchemy clause with its parameters bound (for ORM selects)."""
        sql = self.where(alias, has_level=has_level)
        return text(sql).bindparams(
            **{name: value for name, value in self.params().items() if f":{name}" in sql}
        )


@dataclass(frozen=True)
class Scope:
    """What the caller may see and change; built once per request."""

    role: str = PUBLIC
    user_id: int | None = None
    username: str | None = None
    display_name: str | None = None
    # The region the user answers for (officials, planners; a warden's county; an
    # enterprise's county), None for admins and the public.
    region_code: str | None = None
    read_prefix: str = ""
    # County-code prefix writes must land in; None: this user writes no located rows.
    write_prefix: str | None = None
    department: str | None = None
    sectors: tuple[str, ...] | None = None
    grid_cells: tuple[str, ...] = field(default=())
    enterprise_id: int | None = None

    @property
    def signed_in(self) -> bool:
        """True for a user, False for the public."""
        return self.role != PUBLIC

    def key(self) -> str:
        """What distinguishes this scope's view of the data (for caches and ETags)."""
        return f"{self.role}:{self.read_prefix}:{self.sectors}:{self.enterprise_id}"

    def describe(self) -> dict[str, Any]:
        """The scope as `/api/auth/me` shows it."""
        return {
            "region": self.region_code,
            "sectors": list(self.sectors) if self.sectors else None,
            "department": self.department,
            "grid_cells": list(self.grid_cells),
            "enterprise_id": self.enterprise_id,
        }

    # Kinds of rows

    def can_read(self, table: str) -> bool:
        """True when the role reads rows of `table` (inside its scope)."""
        return table in READABLE[self.role]

    def require_read(self, table: str) -> None:
        """401 for the public, 403 for a role that does not read this kind at all."""
        if not self.can_read(table):
            self._refuse(f"{self.role} may not read {table}", field="layer")

    def require_write(self, table: str) -> None:
        """401 for the public, 403 for a role that does not write this kind."""
        if table not in WRITABLE[self.role] or self.write_prefix is None:
            self._refuse(f"{self.role} may not change {table}", field=None)

    def require_signed_in(self) -> None:
        """401 unless someone is signed in."""
        if not self.signed_in:
            raise Unauthorized("sign in first", field="Authorization")

    def require_role(self, *roles: str) -> None:
        """401 for the public, 403 for any role not listed."""
        if self.role not in roles:
            self._refuse(f"only {', '.join(roles)} may do this", field=None)

    def _refuse(self, message: str, *, field: str | None) -> None:
        self.require_signed_in()
        raise Forbidden(message, field=field)

    # Rows

    def filters(
        self,
        table: str,
        *,
        level: str | None = None,
        sector: str | None = None,
        region: str | None = None,
        updated_since: datetime | None = None,
        blacklisted_on: date | None = None,
        has_level: bool = True,
        has_sector: bool = True,
    ) -> RowFilters:
        """The read filters of `table`: this scope narrowed by the request's own filters.

        `blacklisted_on` keeps the rows of enterprises with a blacklist listing in force on
        that date (the enterprises themselves, or their hazard sources, risk points and
        hidden dangers). A reader of an enterprise sees its listing in its dossier anyway,
        so the filter reveals nothing the row does not.
        """
        levels = parse_levels(level)
        if levels and not has_level:
            raise InvalidInput(f"{table} has no risk level", field="level")
        wanted = tuple(s.strip() for s in sector.split(",") if s.strip()) if sector else None
        if wanted and (not has_sector or table not in SECTOR_OF):
            raise InvalidInput(f"{table} has no sector", field="sector")
        if blacklisted_on is not None and table not in ENTERPRISE_OF:
            raise InvalidInput(f"{table} belong to no enterprise", field="blacklisted")
        return RowFilters(
            table=table,
            code_prefix=self._narrowed(region),
            sectors=self._sectors(wanted),
            enterprise_id=self.enterprise_id,
            levels=tuple(levels) if levels else None,
            updated_since=updated_since,
            blacklisted_on=blacklisted_on,
            scope_key=self.key(),
        )

    def _narrowed(self, region: str | None) -> str:
        if region is None:
            return self.read_prefix
        if not (region.isdigit() and 2 <= len(region) <= 6):
            raise InvalidInput(
                "region must be a region code or a prefix of 2–6 digits", field="region"
            )
        wanted = region_prefix(region) if len(region) == 6 else region
        if wanted.startswith(self.read_prefix):
            return wanted
        return self.read_prefix if self.read_prefix.startswith(wanted) else NO_MATCH_PREFIX

    def _sectors(self, wanted: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if self.sectors is None:
            return wanted
        if wanted is None:
            return self.sectors
        return tuple(s for s in wanted if s in self.sectors)

    def check_written(
        self,
        table: str,
        *,
        county_code: str,
        enterprise_id: int | None,
        sector: str | None,
        grid_code: str | None = None,
    ) -> None:
        """After a write: the row, where the database placed it, is the writer's to write."""
        self.require_write(table)
        assert self.write_prefix is not None
        if not county_code.startswith(self.write_prefix):
            raise Forbidden(
                f"the location lies in county {county_code}, outside what "
                f"{self.username} may change",
                field="geometry",
            )
        if self.role == "warden" and grid_code not in self.grid_cells:
            raise Forbidden(
                f"the location lies outside {self.username}'s grid cells", field="geometry"
            )
        if self.enterprise_id is not None and enterprise_id != self.enterprise_id:
            raise Forbidden(
                "an enterprise account changes its own enterprise's records only",
                field="enterprise_id",
            )
        if self.sectors is not None and table in SECTOR_OF and sector not in self.sectors:
            raise Forbidden(
                f"sector {sector!r} is not supervised by {self.department}", field="sector"
            )

    def not_found(self, table: str, id: object) -> NotFound:
        """The one answer for a row that does not exist or lies outside the scope."""
        return NotFound(f"{table} {id} not found", field="id")


PUBLIC_SCOPE = Scope()


def parse_levels(levels: str | None) -> list[str] | None:
    """Parse 'red,orange' into a list, rejecting unknown colours."""
    if not levels:
        return None
    wanted = [level.strip() for level in levels.split(",") if level.strip()]
    unknown = [level for level in wanted if level not in LEVELS]
    if unknown:
        raise InvalidInput(f"unknown level {unknown[0]!r}", field="level", allowed=list(LEVELS))
    return wanted
