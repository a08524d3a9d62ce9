"""Endpoints of the hidden-danger lifecycle (隐患排查治理闭环)."""

from typing import Annotated, Any

from fastapi import File, Path, Query, Response, UploadFile
from fastapi.responses import FileResponse

from app.crud import Offset, RowId, check_written
from app.dangers import evidence, service
from app.dangers.schemas import DangerIn, GradeName, StatusName, SupervisionLevelName, TransitionIn
from app.datetimes import china_today
from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.features.service import parse_bbox
from app.idempotency import IdempotencyKey
from app.orm import INT4_MAX

router = api_router(prefix="/api/hidden-dangers", tags=["hidden dangers"])


Region = Annotated[str | None, Query(pattern=r"^\d{2,6}$", description="region code or prefix")]


@router.get("", name="list_hidden_dangers")
def list_dangers(
    session: SessionDep,
    scope: ScopeDep,
    region: Region = None,
    grade: GradeName | None = None,
    status: StatusName | None = None,
    overdue: bool | None = None,
    supervision_level: SupervisionLevelName | None = None,
    sector: Annotated[str | None, Query(max_length=400)] = None,
    enterprise_id: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The hidden dangers the caller reads, filtered; each with `overdue` and `actions`."""
    return service.list_dangers(
        session,
        scope=scope,
        today=china_today(),
        limit=limit,
        offset=offset,
        region=region,
        grade=grade,
        status=status,
        overdue=overdue,
        supervision_level=supervision_level,
        sector=sector,
        enterprise_id=enterprise_id,
    )


@router.post("", status_code=201, name="create_hidden_danger")
def create_danger(body: DangerIn, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """Report a hidden danger (enterprises their own; officials in their region)."""
    danger = service.create_danger(session, body=body, scope=scope)
    return service.render_danger(session, danger, scope=scope, today=china_today())


@router.get("/inbox", name="hidden_danger_inbox")
def inbox(session: SessionDep, scope: ScopeDep, region: Region = None) -> dict[str, Any]:
    """An official's work: to register, assess, accept, verify, close; overdue; escalated."""
    return service.inbox(session, scope=scope, today=china_today(), region=region)


@router.post("/escalations", name="escalate_hidden_dangers")
def escalate(session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """Escalate today's overdue major dangers one supervision level (run daily)."""
    today = china_today()
    escalated = service.escalate_overdue(session, scope=scope, today=today)
    return {
        "today": today.isoformat(),
        "escalated": service.render_dangers(session, escalated, scope=scope, today=today),
    }


@router.get("/lifecycle", name="hidden_danger_lifecycle")
def lifecycle() -> dict[str, Any]:
    """The lifecycle as data: grades, statuses, steps (who, what they need), plan items."""
    return service.lifecycle()


Bbox = Annotated[str | None, Query(max_length=200, description="minx,miny,maxx,maxy (WGS 84)")]


@router.get("/map", name="major_hidden_dangers_map")
def major_map(
    session: SessionDep,
    scope: ScopeDep,
    region: Region = None,
    sector: Annotated[str | None, Query(max_length=400)] = None,
    bbox: Bbox = None,
) -> dict[str, Any]:
    """Open major hidden dangers by status, as GeoJSON (重大事故隐患分布电子图)."""
    return service.major_dangers_map(
        session,
        scope=scope,
        today=china_today(),
        region=region,
        sector=sector,
        bbox=parse_bbox(bbox),
    )


@router.get("/{id}", name="get_hidden_danger")
def get_danger(
    id: RowId, session: SessionDep, scope: ScopeDep, response: Response
) -> dict[str, Any]:
    """One hidden danger with the caller's next allowed actions."""
    danger = service.danger_or_raise(session, id=id, scope=scope)
    response.headers["ETag"] = f'"{danger.version}"'
    return service.render_danger(session, danger, scope=scope, today=china_today())


@router.post("/{id}/transitions", name="transition_hidden_danger")
def transition(
    id: RowId,
    body: TransitionIn,
    session: SessionDep,
    scope: ScopeDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Take one lifecycle step; 409 `{detail, allowed}` when the action is not legal now."""
    danger = service.danger_or_raise(session, id=id, scope=scope)
    today = china_today()
    danger = service.transition(
        session, danger=danger, body=body, scope=scope, today=today, idempotency_key=idempotency_key
    )
    return service.render_danger(session, danger, scope=scope, today=today)


@router.get("/{id}/history", name="hidden_danger_history")
def danger_history(id: RowId, session: SessionDep, scope: ScopeDep) -> list[dict[str, Any]]:
    """Every step of the danger, oldest first: who, when, note, evidence, where."""
    danger = service.danger_or_raise(session, id=id, scope=scope)
    return service.history(session, danger=danger)


@router.post("/{id}/evidence", status_code=201, name="upload_hidden_danger_evidence")
def upload_evidence(
    id: RowId,
    session: SessionDep,
    scope: ScopeDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP, ≤ 5 MB")],
) -> dict[str, Any]:
    """Store a photo for the danger's next step; cite its `sha256` in `evidence.photos`."""
    danger = service.danger_or_raise(session, id=id, scope=scope)
    scope.require_write(service.TABLE)
    check_written(session, scope, danger)
    service.require_open(danger)
    data = file.file.read(evidence.MAX_PHOTO_BYTES + 1)
    row = evidence.store_photo(
        session, danger=danger, data=data, filename=file.filename, scope=scope
    )
    return evidence.render_photo(row)


@router.get(
    "/{id}/evidence/{sha256}",
    name="get_hidden_danger_evidence",
    response_class=FileResponse,
    responses={200: {"content": {t: {} for t in evidence.PHOTO_TYPES}}},
)
def get_evidence(
    id: RowId,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
    session: SessionDep,
    scope: ScopeDep,
) -> FileResponse:
    """A stored photo of the danger."""
    danger = service.danger_or_raise(session, id=id, scope=scope)
    row = evidence.photo_or_raise(session, danger=danger, sha256=sha256)
    return FileResponse(evidence.evidence_dir() / row.sha256, media_type=row.content_type)
