"""The hidden-danger lifecycle: report, take steps by the rules in data, escalate, inbox.

Every step is checked against geodata/dangers (legal from the status? this role? its
required inputs?), applied to the danger and recorded in the append-only history with who,
when, note, evidence and where, in one transaction. Dates that decide "overdue" come from
a `today` argument, so the rules can be tested with a fixed clock.
"""

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.auth.scope import Scope
from app.cluster import routing
from app.crud import (
    atomic_write,
    body_fields,
    body_location,
    check_written,
    get_or_raise,
    render_located,
)
from app.dangers import rules
from app.dangers.models import DangerEvent, EvidenceFile, HiddenDanger
from app.dangers.schemas import DangerIn, TransitionIn
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.geo.location import ewkt, parse_location
from app.regions.service import require_in_china
from app.risk import grading
from app.risk.models import RiskPoint
from app.sites.models import Enterprise
from app.sites.service import enterprise_or_raise

TABLE = "hidden_dangers"
# The steps that wait on an official: the inbox lists the dangers ready for each.
INBOX_ACTIONS = ("register", "assess", "accept", "verify", "close")
INBOX_LIMIT = 100
FIELDS = (
    "enterprise_id",
    "risk_point_id",
    "inspection_id",
    "title",
    "description",
    "grade",
    "status",
    "deadline",
    "plan",
    "supervision_level",
    "supervision_deadline",
    "escalated_at",
    "found_at",
    "closed_at",
    "responsible_person",
    "responsible_phone",
    "government_person",
)


# Today's date in China: defined in app.datetimes, also named here, where the routers of
# hidden dangers, inspections and reports have always taken it.


# The farthest deadline a step may set (a product bound, not a rule of the seeds: their
# time limits are months; a deadline years away would keep a danger from ever being overdue).
MAX_DEADLINE_AHEAD = timedelta(days=730)


# Reading


def is_overdue(danger: HiddenDanger, today: date) -> bool:
    """True while a deadline runs (statuses.csv) and one of the danger's deadlines passed."""
    if not rules.statuses()[danger.status].deadline_runs:
        return False
    return any(d is not None and d < today for d in (danger.deadline, danger.supervision_deadline))


def overdue_condition(today: date) -> ColumnElement[bool]:
    """`is_overdue` as SQL."""
    return and_(
        HiddenDanger.status.in_(rules.deadline_running()),
        or_(HiddenDanger.deadline < today, HiddenDanger.supervision_deadline < today),
    )


def _work_order(today: date) -> tuple[ColumnElement[Any], ...]:
    """The list's order, what needs work first: open before closed, overdue first, then
    the nearest deadline (none yet: last), then the newest report."""
    open_statuses = [s.status for s in rules.statuses().values() if s.open]
    return (
        HiddenDanger.status.in_(open_statuses).desc(),
        overdue_condition(today).desc(),
        HiddenDanger.deadline.asc().nulls_last(),
        HiddenDanger.id.desc(),
    )


def require_open(danger: HiddenDanger) -> None:
    """409 for a closed (销号) danger: its record is final, no photo is added to it."""
    if not rules.statuses()[danger.status].open:
        raise Conflict(
            f"hidden danger {danger.id} is {danger.status}: its record takes no new evidence",
            field="status",
        )


def next_actions(danger: HiddenDanger, scope: Scope) -> list[str]:
    """The actions this caller's role may take on the danger now."""
    legal = rules.steps_from(danger.status, danger.grade)
    return list(dict.fromkeys(step.action for step in legal if scope.role in step.roles))


def render_dangers(
    session: Session, dangers: Sequence[HiddenDanger], *, scope: Scope, today: date
) -> list[dict[str, Any]]:
    """Hidden dangers for the API, each with its enterprise's name, its overdue flag and the
    caller's next actions. The names come in one query: the dangers were read in scope,
    and a danger's enterprise is the one it was reported at."""
    ids = {d.enterprise_id for d in dangers if d.enterprise_id is not None}
    names: dict[int, str] = {}
    if ids:
        found = session.execute(
            select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(ids))
        )
        names = {id: name for id, name in found}
    rendered = []
    for danger in dangers:
        body = render_located(danger, FIELDS)
        for name in ("deadline", "supervision_deadline", "escalated_at", "found_at", "closed_at"):
            value = body[name]
            body[name] = value.isoformat() if value is not None else None
        rendered.append(
            {
                **body,
                "enterprise_name": names.get(danger.enterprise_id)
                if danger.enterprise_id is not None
                else None,
                "overdue": is_overdue(danger, today),
                "actions": next_actions(danger, scope),
            }
        )
    return rendered


def render_danger(
    session: Session, danger: HiddenDanger, *, scope: Scope, today: date
) -> dict[str, Any]:
    """One hidden danger for the API (see `render_dangers`)."""
    return render_dangers(session, [danger], scope=scope, today=today)[0]


def danger_or_raise(session: Session, *, id: int, scope: Scope) -> HiddenDanger:
    """The danger if the caller reads it, else 404."""
    danger: HiddenDanger = get_or_raise(session, HiddenDanger, id=id, scope=scope)
    return danger


def list_dangers(
    session: Session,
    *,
    scope: Scope,
    today: date,
    limit: int,
    offset: int,
    region: str | None = None,
    grade: str | None = None,
    status: str | None = None,
    overdue: bool | None = None,
    supervision_level: str | None = None,
    sector: str | None = None,
    enterprise_id: int | None = None,
) -> dict[str, Any]:
    """A page of the dangers the caller reads, filtered."""
    scope.require_read(TABLE)
    filters = scope.filters(TABLE, sector=sector, region=region, has_level=False)
    statement = select(HiddenDanger).where(filters.condition(TABLE, has_level=False))
    for column, value in (
        (HiddenDanger.grade, grade),
        (HiddenDanger.status, status),
        (HiddenDanger.supervision_level, supervision_level),
        (HiddenDanger.enterprise_id, enterprise_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if overdue is not None:
        condition = overdue_condition(today)
        statement = statement.where(condition if overdue else ~condition)
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = session.scalars(statement.order_by(*_work_order(today)).limit(limit).offset(offset))
    return {
        "items": render_dangers(session, list(rows), scope=scope, today=today),
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def render_event(event: DangerEvent) -> dict[str, Any]:
    """A history row for the API."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "action": event.action,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "user_id": event.user_id,
        "username": event.username,
        "note": event.note,
        "evidence": event.evidence,
        "grade": event.grade,
        "deadline": event.deadline.isoformat() if event.deadline else None,
        "supervision_level": event.supervision_level,
        "plan": event.plan,
    }


def history(session: Session, *, danger: HiddenDanger) -> list[dict[str, Any]]:
    """Every recorded step of a danger, oldest first, with where it was taken."""
    # Who took a step, by the name the record is signed with (users: reference data).
    steps = (
        select(
            DangerEvent,
            func.ST_X(DangerEvent.geom),
            func.ST_Y(DangerEvent.geom),
            User.display_name,
        )
        .outerjoin(User, User.id == DangerEvent.user_id)
        .where(DangerEvent.danger_id == danger.id)
    )
    if routing.colocated(session.connection()):
        # On the cluster a danger's steps are kept in its county (copied there when it
        # moves, the old county keeping its record: migrations/sql/0021_*.sql).
        steps = steps.where(DangerEvent.county_code == danger.county_code)
    rows = session.execute(steps.order_by(DangerEvent.id)).all()
    return [
        {**render_event(event), "display_name": name, "location": {"lon": lon, "lat": lat}}
        for event, lon, lat, name in rows
    ]


# Writing


def record(
    session: Session,
    danger: HiddenDanger,
    *,
    action: str,
    from_status: str | None,
    scope: Scope,
    geom: object | None = None,
    note: str | None = None,
    evidence: dict[str, Any] | None = None,
    grade: str | None = None,
    deadline: date | None = None,
    supervision_level: str | None = None,
    plan: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> None:
    """Append one step to the danger's history (the danger is flushed already)."""
    session.add(
        DangerEvent(
            county_code=danger.county_code,
            danger_id=danger.id,
            action=action,
            from_status=from_status,
            to_status=danger.status,
            user_id=scope.user_id,
            username=scope.username,
            note=note,
            evidence=evidence,
            grade=grade,
            deadline=deadline,
            supervision_level=supervision_level,
            plan=plan,
            geom=geom or danger.geom,
            idempotency_key=idempotency_key,
        )
    )


def _check_grade(grade: str, county_code: str) -> None:
    known = rules.grades()
    if not known[grade].used_in(county_code):
        allowed = [g for g, info in known.items() if info.used_in(county_code)]
        raise InvalidInput(
            f"grade {grade!r} ({known[grade].name_zh}) is not used in "
            f"province {county_code[:2]}0000",
            field="grade",
            allowed=allowed,
        )


def create_danger(session: Session, *, body: DangerIn, scope: Scope) -> HiddenDanger:
    """Report a hidden danger (排查发现): stored as `reported`, the report recorded."""
    scope.require_write(TABLE)
    enterprise = (
        enterprise_or_raise(session, body.enterprise_id, scope)
        if body.enterprise_id is not None
        else None
    )
    point = _risk_point(session, body.risk_point_id, scope) if body.risk_point_id else None
    if point is not None and enterprise is not None and point.enterprise_id != enterprise.id:
        raise InvalidInput(
            f"risk point {point.id} belongs to another enterprise", field="risk_point_id"
        )
    enterprise_id = enterprise.id if enterprise else point.enterprise_id if point else None
    geom = (
        body_location(body)
        or (point.geom if point else None)
        or (enterprise.geom if enterprise else None)
    )
    if geom is None:
        raise InvalidInput("give lon and lat, or an enterprise to place it at", field="lon,lat")
    with atomic_write(session):
        # The grade has a default a client may leave out: taken from the body, not the
        # fields the client set.
        danger = add_reported(
            session,
            scope=scope,
            note=body.description,
            **body_fields(body, "enterprise_id", "grade"),
            grade=body.grade,
            enterprise_id=enterprise_id,
            geom=geom,
        )
        check_written(session, scope, danger)
    return danger


def add_reported(
    session: Session, *, scope: Scope, note: str | None, **fields: Any
) -> HiddenDanger:
    """Insert a danger in the lifecycle's first status and record its report (inside the
    caller's transaction: the caller checks the writer's right to the row)."""
    danger = HiddenDanger(**fields, status=rules.initial_status())
    session.add(danger)
    session.flush()
    session.refresh(danger)
    _check_grade(danger.grade, danger.county_code)
    record(
        session,
        danger,
        action="report",
        from_status=None,
        scope=scope,
        note=note,
        grade=danger.grade,
    )
    _refresh_enterprise(session, danger)
    return danger


def _risk_point(session: Session, id: int, scope: Scope) -> RiskPoint:
    try:
        point: RiskPoint = get_or_raise(session, RiskPoint, id=id, scope=scope)
    except NotFound as error:
        raise InvalidInput(f"risk point {id} does not exist", field="risk_point_id") from error
    return point


def _refresh_enterprise(session: Session, danger: HiddenDanger) -> None:
    # An open major danger raises its enterprise's level (risk/enterprise_rule.json).
    if danger.enterprise_id is not None:
        grading.refresh_enterprise_levels(session, ids=[danger.enterprise_id])


def transition(
    session: Session,
    *,
    danger: HiddenDanger,
    body: TransitionIn,
    scope: Scope,
    today: date,
    idempotency_key: str | None = None,
) -> HiddenDanger:
    """Take one lifecycle step: 409 naming the legal actions when it is not one of them,
    403 for a role not entitled to it, 422 naming a missing or bad input."""
    # One step at a time per danger: concurrent steps (and retries) queue on the row.
    lock = select(HiddenDanger).where(HiddenDanger.id == danger.id)
    if routing.colocated(session.connection()):
        # Citus locks rows of one shard only (FOR UPDATE over every shard is refused).
        lock = lock.where(HiddenDanger.county_code == danger.county_code)
    session.scalars(lock.with_for_update().execution_options(populate_existing=True)).one()
    if idempotency_key is not None and session.scalar(
        select(DangerEvent.id).where(
            DangerEvent.danger_id == danger.id, DangerEvent.idempotency_key == idempotency_key
        )
    ):
        return danger  # a retry of a recorded submission: recorded once
    if body.action not in rules.actions():
        raise InvalidInput(
            f"unknown action {body.action!r}", field="action", allowed=rules.actions()
        )
    legal = rules.steps_from(danger.status, danger.grade)
    step = next((s for s in legal if s.action == body.action), None)
    if step is None:
        raise Conflict(
            f"{body.action} is not allowed while the danger is {danger.status}",
            field="action",
            allowed=list(dict.fromkeys(s.action for s in legal)),
        )
    if scope.role not in step.roles:
        scope.require_signed_in()
        raise Forbidden(
            f"a {scope.role} may not {step.action} ({step.name_zh}); "
            f"{', '.join(sorted(step.roles))} may",
            field="action",
        )
    check_written(session, scope, danger)
    _check_requirements(session, danger, step, body, today)
    geom = (
        ewkt(parse_location(lon=body.lon, lat=body.lat, geometry=None, crs=body.crs))
        if body.lon is not None and body.lat is not None
        else None
    )
    if geom is not None:
        require_in_china(session, geom)
    from_status = danger.status
    with atomic_write(session):
        _apply(danger, step, body)
        session.flush()
        evidence = body.evidence.model_dump() if body.evidence else None
        record(
            session,
            danger,
            action=step.action,
            from_status=from_status,
            scope=scope,
            geom=geom,
            note=body.note,
            evidence=evidence,
            grade=body.grade if "grade" in step.requires else None,
            deadline=body.deadline if "deadline" in step.requires else None,
            supervision_level=body.supervision_level
            if "supervision_level" in step.requires
            else None,
            plan=body.plan if step.requires & {"plan", "five_items"} else None,
            idempotency_key=idempotency_key,
        )
        _refresh_enterprise(session, danger)
    session.refresh(danger)
    return danger


def _check_requirements(
    session: Session, danger: HiddenDanger, step: rules.Step, body: TransitionIn, today: date
) -> None:
    """422 naming the first input the step needs and did not get (or got wrong)."""
    needs = step.requires
    if "grade" in needs:
        if body.grade is None:
            raise InvalidInput(
                f"{step.action} needs a grade", field="grade", allowed=list(rules.grades())
            )
        _check_grade(body.grade, danger.county_code)
    for kind in ("plan", "five_items"):
        if kind in needs:
            _check_plan(body.plan, kind)
    if "deadline" in needs:
        if body.deadline is None:
            raise InvalidInput(f"{step.action} needs a deadline", field="deadline")
        if body.deadline < today:
            raise InvalidInput(f"the deadline {body.deadline} is in the past", field="deadline")
        if body.deadline > today + MAX_DEADLINE_AHEAD:
            raise InvalidInput(
                f"the deadline {body.deadline} lies over {MAX_DEADLINE_AHEAD.days} days ahead:"
                " a danger whose deadline never comes is never overdue",
                field="deadline",
            )
    if "supervision_level" in needs:
        _check_supervision_level(danger, body.supervision_level)
    if "note" in needs and not (body.note and body.note.strip()):
        raise InvalidInput(f"{step.action} needs a note saying why", field="note")
    if "evidence" in needs:
        evidence = body.evidence
        if evidence is None or not ((evidence.text and evidence.text.strip()) or evidence.photos):
            raise InvalidInput(f"{step.action} needs evidence (a text or photos)", field="evidence")
    if body.evidence and body.evidence.photos:
        stored = set(
            session.scalars(
                select(EvidenceFile.sha256).where(
                    EvidenceFile.danger_id == danger.id,
                    EvidenceFile.sha256.in_(body.evidence.photos),
                )
            )
        )
        missing = [photo for photo in body.evidence.photos if photo not in stored]
        if missing:
            raise InvalidInput(
                f"photo {missing[0]} was not uploaded to this danger", field="evidence.photos"
            )


def _check_plan(plan: dict[str, str] | None, kind: str) -> None:
    items = rules.plan_items()[kind]
    given = plan or {}
    unknown = [name for name in given if name not in items]
    if unknown:
        raise InvalidInput(
            f"{unknown[0]!r} is not an item of the {kind}",
            field=f"plan.{unknown[0]}",
            allowed=list(items),
        )
    missing = [name for name in items if not given.get(name, "").strip()]
    if missing:
        raise InvalidInput(
            f"the {kind} lacks {', '.join(missing)}",
            field=f"plan.{missing[0]}",
            allowed=list(items),
        )


def _check_supervision_level(danger: HiddenDanger, level: str | None) -> None:
    levels = rules.supervision_levels()
    if level is None:
        raise InvalidInput(
            "supervision needs a level", field="supervision_level", allowed=list(levels)
        )
    current = danger.supervision_level
    if current is not None and levels[level].rank < levels[current].rank:
        raise InvalidInput(
            f"already supervised at {current} level; a lower level is refused",
            field="supervision_level",
            allowed=[name for name, info in levels.items() if info.rank >= levels[current].rank],
        )


def _apply(danger: HiddenDanger, step: rules.Step, body: TransitionIn) -> None:
    danger.status = step.target
    if "grade" in step.requires:
        danger.grade = body.grade or danger.grade
    if step.requires & {"plan", "five_items"}:
        danger.plan = body.plan
    if "supervision_level" in step.requires:
        danger.supervision_level = body.supervision_level
        danger.supervision_deadline = body.deadline
    elif "deadline" in step.requires:
        danger.deadline = body.deadline
    if not rules.statuses()[step.target].open:
        danger.closed_at = func.now()


# Deadlines


def escalate_overdue(session: Session, *, scope: Scope, today: date) -> list[HiddenDanger]:
    """Raise every overdue major-path danger the caller may change one supervision level
    (street → district → city), with a new supervision deadline; each escalation recorded.

    Running it twice on one day changes nothing more: the new deadline lies ahead.
    """
    scope.require_role("admin", "official")
    major_grades = [g for g, info in rules.grades().items() if info.path == "major"]
    running = [s.status for s in rules.statuses().values() if s.deadline_runs]
    top = list(rules.supervision_levels())[-1]
    filters = scope.filters(TABLE, has_level=False)
    clock = func.coalesce(HiddenDanger.supervision_deadline, HiddenDanger.deadline)
    overdue = select(HiddenDanger).where(
        filters.condition(TABLE, has_level=False),
        HiddenDanger.grade.in_(major_grades),
        HiddenDanger.status.in_(running),
        clock < today,
        or_(HiddenDanger.supervision_level.is_(None), HiddenDanger.supervision_level != top),
    )
    if routing.colocated(session.connection()):
        # Citus locks rows of one shard at a time: find them, then lock each by its key
        # (still overdue once locked, or left alone).
        keys = session.execute(
            overdue.with_only_columns(HiddenDanger.county_code, HiddenDanger.id).order_by(
                HiddenDanger.id
            )
        ).all()
        locked = (
            session.scalars(
                overdue.where(HiddenDanger.county_code == county, HiddenDanger.id == id_)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).first()
            for county, id_ in keys
        )
        candidates = [danger for danger in locked if danger is not None]
    else:
        candidates = list(
            session.scalars(overdue.order_by(HiddenDanger.id).with_for_update()).all()
        )
    escalated = []
    with atomic_write(session):
        for danger in candidates:
            check_written(session, scope, danger)
            level = rules.next_supervision_level(danger.supervision_level)
            assert level is not None  # the query left out dangers at the top level
            was = danger.supervision_level or "none"
            danger.supervision_level = level
            danger.supervision_deadline = today + timedelta(
                days=rules.supervision_levels()[level].days_to_respond
            )
            danger.escalated_at = func.now()
            session.flush()
            record(
                session,
                danger,
                action="escalate",
                from_status=danger.status,
                scope=scope,
                note=f"overdue on {today}: supervision raised from {was} to {level}",
                deadline=danger.supervision_deadline,
                supervision_level=level,
            )
            escalated.append(danger)
    for danger in escalated:
        session.refresh(danger)
    return escalated


def inbox(
    session: Session, *, scope: Scope, today: date, region: str | None = None
) -> dict[str, Any]:
    """What waits on an official: dangers ready for each official step, overdue ones and
    escalated ones, each list capped (with its full count)."""
    scope.require_role("admin", "official")
    filters = scope.filters(TABLE, region=region, has_level=False)
    scoped = filters.condition(TABLE, has_level=False)
    open_statuses = [s.status for s in rules.statuses().values() if s.open]
    lists: dict[str, ColumnElement[bool]] = {
        f"to_{action}": _ready_for(action) for action in INBOX_ACTIONS
    }
    lists["overdue"] = overdue_condition(today)
    lists["escalated"] = and_(
        HiddenDanger.escalated_at.is_not(None), HiddenDanger.status.in_(open_statuses)
    )
    result: dict[str, Any] = {"today": today.isoformat()}
    for name, condition in lists.items():
        statement = select(HiddenDanger).where(scoped, condition)
        total = session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = session.scalars(
            statement.order_by(HiddenDanger.deadline.nulls_last(), HiddenDanger.id).limit(
                INBOX_LIMIT
            )
        )
        result[name] = {
            "total": total,
            "items": render_dangers(session, list(rows), scope=scope, today=today),
        }
    return result


def _ready_for(action: str) -> ColumnElement[bool]:
    """SQL: the danger's status and grade make `action` legal now."""
    conditions = []
    for step in rules.steps():
        if step.action != action:
            continue
        grades = [
            g for g, info in rules.grades().items() if step.path in (rules.ANY_PATH, info.path)
        ]
        conditions.append(and_(HiddenDanger.status == step.source, HiddenDanger.grade.in_(grades)))
    return or_(*conditions) if conditions else false()


# The map of major hidden dangers (重大事故隐患分布电子图)

MAP_LIMIT = 5000


def major_dangers_map(
    session: Session,
    *,
    scope: Scope,
    today: date,
    region: str | None = None,
    sector: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> dict[str, Any]:
    """The open dangers on the major treatment path (重大, and 较大 where used) as GeoJSON
    points with their status, overdue flag and supervision level; at most MAP_LIMIT, the
    overdue and most supervised first (`truncated` says when some were left out)."""
    scope.require_read(TABLE)
    filters = scope.filters(TABLE, sector=sector, region=region, has_level=False)
    major_grades = [g for g, info in rules.grades().items() if info.path == "major"]
    open_statuses = [s.status for s in rules.statuses().values() if s.open]
    statement = select(
        HiddenDanger, func.ST_X(HiddenDanger.geom), func.ST_Y(HiddenDanger.geom)
    ).where(
        filters.condition(TABLE, has_level=False),
        HiddenDanger.grade.in_(major_grades),
        HiddenDanger.status.in_(open_statuses),
    )
    if bbox is not None:
        statement = statement.where(HiddenDanger.geom.intersects(func.ST_MakeEnvelope(*bbox, 4326)))
    levels = rules.supervision_levels()
    rank = func.coalesce(
        case(
            {name: info.rank for name, info in levels.items()}, value=HiddenDanger.supervision_level
        ),
        0,
    )
    rows = session.execute(
        statement.order_by(overdue_condition(today).desc(), rank.desc(), HiddenDanger.id).limit(
            MAP_LIMIT + 1
        )
    ).all()
    statuses = rules.statuses()
    features = [
        {
            "type": "Feature",
            "id": danger.id,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "id": danger.id,
                "title": danger.title,
                "grade": danger.grade,
                "status": danger.status,
                "status_zh": statuses[danger.status].name_zh,
                "overdue": is_overdue(danger, today),
                "supervision_level": danger.supervision_level,
                "deadline": danger.deadline.isoformat() if danger.deadline else None,
                "enterprise_id": danger.enterprise_id,
                "county_code": danger.county_code,
            },
        }
        for danger, lon, lat in rows[:MAP_LIMIT]
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "truncated": len(rows) > MAP_LIMIT,
        "today": today.isoformat(),
    }


def lifecycle() -> dict[str, Any]:
    """The lifecycle as data (geodata/dangers): what screens need to name statuses, offer
    the next steps and build their forms."""
    return {
        "grades": [
            {"grade": g.grade, "name_zh": g.name_zh, "path": g.path, "provinces": g.provinces}
            for g in rules.grades().values()
        ],
        "statuses": [
            {"status": s.status, "name_zh": s.name_zh, "open": s.open}
            for s in rules.statuses().values()
        ],
        "steps": [
            {
                "action": s.action,
                "name_zh": s.name_zh,
                "from_status": s.source,
                "to_status": s.target,
                "path": s.path,
                "roles": sorted(s.roles),
                "requires": sorted(s.requires),
            }
            for s in rules.steps()
        ],
        "plan_items": {
            kind: [
                {"item": item, "name_zh": rules.plan_item_names()[(kind, item)]} for item in items
            ]
            for kind, items in rules.plan_items().items()
        },
        "supervision_levels": [
            {"level": level.level, "name_zh": level.name_zh, "rank": level.rank}
            for level in rules.supervision_levels().values()
        ],
    }
