"""Listing, removing and reading blacklist entries; the public list.

Officials (and admins) list enterprises they may write (their region, their sectors); a
listing ends when its period has passed (`expire`, run daily, or one removal) or earlier
on review, with a note. Nothing is deleted: a removed entry stays as the record.

A listing in force is an input of the enterprise's grade (geodata/risk/enterprise_rule.json):
listing, removing and expiring re-grade the enterprise in the same transaction, and the
triggers on its row keep region_counts and tile_cells exact.
"""

from datetime import date
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.auth.scope import Scope, region_prefix
from app.blacklist.models import BlacklistEntry
from app.blacklist.schemas import BlacklistIn, RemovalIn
from app.crud import atomic_write
from app.errors import Conflict, InvalidInput, NotFound
from app.risk import grading
from app.sites.models import Enterprise
from app.sites.service import enterprise_or_raise

LISTERS = ("admin", "official")


def render(entry: BlacklistEntry, enterprise: Enterprise | None = None) -> dict[str, Any]:
    """An entry for the API."""
    return {
        "id": entry.id,
        "enterprise_id": entry.enterprise_id,
        "enterprise_name": enterprise.name if enterprise else None,
        "credit_code": enterprise.credit_code if enterprise else None,
        "county_code": entry.county_code,
        "reason": entry.reason,
        "legal_basis": entry.legal_basis,
        "decided_on": entry.decided_on.isoformat(),
        "listed_until": entry.listed_until.isoformat(),
        "decided_by": entry.decided_by,
        "published": entry.published,
        "removed_on": entry.removed_on.isoformat() if entry.removed_on else None,
        "removal": entry.removal,
        "removal_note": entry.removal_note,
        "removed_by": entry.removed_by,
    }


def create(session: Session, *, body: BlacklistIn, scope: Scope, today: date) -> dict[str, Any]:
    """List an enterprise; 409 while it is listed already."""
    scope.require_role(*LISTERS)
    enterprise = enterprise_or_raise(session, body.enterprise_id, scope)
    scope.check_written(
        "enterprises",
        county_code=enterprise.county_code,
        enterprise_id=enterprise.id,
        sector=enterprise.sector,
    )
    if body.listed_until < body.decided_on:
        raise InvalidInput("the period ends before the decision", field="listed_until")
    if body.decided_on > today:
        raise InvalidInput("a decision cannot be dated in the future", field="decided_on")
    entry = BlacklistEntry(
        county_code=enterprise.county_code,
        enterprise_id=enterprise.id,
        reason=body.reason,
        legal_basis=body.legal_basis,
        decided_on=body.decided_on,
        listed_until=body.listed_until,
        decided_by=scope.display_name or scope.username or "",
        decided_by_id=scope.user_id,
        published=body.published,
    )
    with atomic_write(session):
        session.add(entry)
        session.flush()
        grading.refresh_enterprise_levels(session, ids=[enterprise.id], today=today)
    return render(entry, enterprise)


def _entry_or_raise(session: Session, *, id: int, scope: Scope) -> BlacklistEntry:
    scope.require_role(*LISTERS)
    entry = session.scalars(
        select(BlacklistEntry).where(
            BlacklistEntry.id == id, BlacklistEntry.county_code.startswith(scope.read_prefix)
        )
    ).first()
    if entry is None:
        raise NotFound(f"blacklist entry {id} not found", field="id")
    return entry


def read(session: Session, *, id: int, scope: Scope) -> dict[str, Any]:
    """One entry the caller's region holds."""
    entry = _entry_or_raise(session, id=id, scope=scope)
    return render(entry, session.get(Enterprise, entry.enterprise_id))


def remove(
    session: Session, *, id: int, body: RemovalIn, scope: Scope, today: date
) -> dict[str, Any]:
    """End a listing: after its period (expired), or earlier on review with a note."""
    entry = _entry_or_raise(session, id=id, scope=scope)
    enterprise = session.get(Enterprise, entry.enterprise_id)
    assert enterprise is not None  # entries are deleted with their enterprise
    scope.check_written(
        "enterprises",
        county_code=entry.county_code,
        enterprise_id=enterprise.id,
        sector=enterprise.sector,
    )
    if entry.removed_on is not None:
        raise Conflict(f"entry {id} was removed on {entry.removed_on}", field="removal")
    if body.removal == "expired" and entry.listed_until >= today:
        raise Conflict(
            f"the listing runs until {entry.listed_until}: remove it on review instead",
            field="removal",
            allowed=["review"],
        )
    if body.removal == "review" and not (body.note and body.note.strip()):
        raise InvalidInput("a removal on review needs a note (the review's decision)", field="note")
    entry.removed_on, entry.removal = today, body.removal
    entry.removal_note, entry.removed_by = body.note, scope.display_name or scope.username
    session.flush()
    grading.refresh_enterprise_levels(session, ids=[enterprise.id], today=today)
    return render(entry, enterprise)


def expire(session: Session, *, scope: Scope, today: date) -> int:
    """Remove every listing of the caller's region whose period has ended and re-grade
    their enterprises; return how many."""
    scope.require_role(*LISTERS)
    enterprises = (
        session.execute(
            text("""
        UPDATE blacklist_entries SET removed_on = :today, removal = 'expired',
               removed_by = :who, updated_at = now()
         WHERE removed_on IS NULL AND listed_until < :today AND county_code LIKE :prefix
        RETURNING enterprise_id"""),
            {"today": today, "who": scope.username, "prefix": scope.read_prefix + "%"},
        )
        .scalars()
        .all()
    )
    grading.refresh_enterprise_levels(session, ids=sorted(set(enterprises)), today=today)
    return len(enterprises)


_LIST_SQL = """
    SELECT b.*, e.name AS enterprise_name, e.credit_code
      FROM blacklist_entries b JOIN enterprises e ON e.id = b.enterprise_id
     WHERE b.county_code LIKE :prefix
       AND (:state = 'all'
            OR (:state = 'active' AND b.removed_on IS NULL AND b.listed_until >= :today)
            OR (:state = 'removed' AND (b.removed_on IS NOT NULL OR b.listed_until < :today)))
       AND (NOT :public OR b.published)
     ORDER BY b.decided_on DESC, b.id DESC
     LIMIT :limit OFFSET :offset
"""


def listing(
    session: Session,
    *,
    scope: Scope | None,
    today: date,
    region: str | None,
    state: str,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """Entries of a region; `scope` None is the public list (published, in force)."""
    if scope is not None:
        scope.require_role(*LISTERS)
        prefix = scope.filters("enterprises", region=region).code_prefix
    else:
        prefix = scope_free_prefix(region)
    rows = session.execute(
        text(_LIST_SQL),
        {
            "prefix": prefix + "%",
            "state": "active" if scope is None else state,
            "today": today,
            "public": scope is None,
            "limit": limit,
            "offset": offset,
        },
    ).mappings()
    items = []
    for row in rows:
        item = {
            key: (value.isoformat() if isinstance(value, date) else value)
            for key, value in row.items()
            if key not in ("updated_at", "decided_by_id")
        }
        if scope is None:  # the public list names the decision, not the internals
            for key in ("removal", "removal_note", "removed_by", "removed_on", "published"):
                item.pop(key, None)
        items.append(item)
    return items


def scope_free_prefix(region: str | None) -> str:
    """The county-code prefix of a region for the public list (everything when None)."""
    return region_prefix(region) if region and len(region) == 6 else (region or "")


def status_of(session: Session, *, enterprise_id: int, today: date) -> dict[str, Any] | None:
    """The enterprise's listing in force, if any (for its dossier)."""
    entry = session.scalars(
        select(BlacklistEntry).where(
            BlacklistEntry.enterprise_id == enterprise_id,
            BlacklistEntry.removed_on.is_(None),
            BlacklistEntry.listed_until >= today,
        )
    ).first()
    return None if entry is None else render(entry)
