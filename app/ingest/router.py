"""Bulk import endpoints: upload and check (dry run) or commit a file; blank templates."""

import shutil
import tempfile
import uuid
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import File, Path, Query, Response, UploadFile

from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.errors import InvalidInput
from app.ingest import workbooks
from app.ingest.layers import LAYER_NAMES, layers
from app.ingest.progress import ProgressRecorder
from app.ingest.progress import read as read_progress
from app.ingest.service import CRS_NAMES, import_file
from app.progress import silent

router = api_router(prefix="/api/imports", tags=["imports"])

LayerName = Literal[
    "enterprises",
    "risk_points",
    "hazard_sources",
    "public_zones",
    "hidden_dangers",
    "emergency_resources",
    "grid_cells",
    "parks",
]
CrsName = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]
assert set(LayerName.__args__) == set(LAYER_NAMES)  # type: ignore[attr-defined]
assert set(CrsName.__args__) == set(CRS_NAMES)  # type: ignore[attr-defined]

_XLSX: dict[int | str, dict[str, Any]] = {200: {"content": {workbooks.XLSX_MEDIA_TYPE: {}}}}


@router.post("", response_model=None, responses=_XLSX)
def upload(
    session: SessionDep,
    scope: ScopeDep,
    file: Annotated[
        UploadFile, File(description="GeoJSON, zipped Shapefile, GPKG, KML, CSV, XLSX")
    ],
    layer: Annotated[LayerName, Query(description="the layer the rows belong to")],
    crs: Annotated[CrsName, Query(description="coordinates' datum")] = "wgs84",
    dry_run: Annotated[bool, Query(description="check and report only")] = True,
    format: Annotated[Literal["json", "xlsx"], Query(description="report format")] = "json",
    progress: Annotated[
        uuid.UUID | None,
        Query(
            description="a token of the caller's choosing: GET /api/imports/progress/{token}"
            " tells how far this import has got while it runs"
        ),
    ] = None,
) -> dict[str, Any] | Response:
    """Check every row of a file and, unless a dry run, import all of them or none (422).

    Rows match stored rows by the layer's key (enterprises: the credit code) and update
    them; the others are inserted. The report lists every row: accepted (insert or update)
    or rejected with the field and the reason."""
    name = FilePath(file.filename or "upload").name
    with tempfile.TemporaryDirectory(prefix="riskatlas-import-") as folder:
        path = FilePath(folder) / ("upload" + FilePath(name).suffix.lower())
        with path.open("wb") as target:
            shutil.copyfileobj(file.file, target)
        if path.stat().st_size == 0:
            raise InvalidInput("the file is empty", field="file")
        result = import_file(
            session,
            path=path,
            file_name=name,
            layer=layer,
            crs=crs,
            dry_run=dry_run,
            scope=scope,
            progress=(
                # The database the session writes to (the tests' one too), another connection.
                ProgressRecorder(session.get_bind().engine, user_id=scope.user_id, token=progress)
                if progress and scope.user_id
                else silent
            ),
        )
    if format == "xlsx":
        return Response(
            workbooks.report(result),
            media_type=workbooks.XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="import-report.xlsx"'},
        )
    return result


@router.get("/progress/{token}")
def import_progress(
    token: Annotated[uuid.UUID, Path(description="the token the import was sent with")],
    session: SessionDep,
    scope: ScopeDep,
) -> dict[str, Any]:
    """How far the caller's running import has got: `{stage, done, total, updated_at}`
    (stages: waiting — not started, or another user's token —, read, check, write)."""
    scope.require_signed_in()
    return read_progress(session, user_id=scope.user_id or 0, token=token)


@router.get("/templates/{layer}.xlsx", response_class=Response, responses=_XLSX)
def template(layer: Annotated[LayerName, Path(description="the layer")]) -> Response:
    """A blank import sheet with the layer's Chinese headers and a sheet explaining them."""
    return Response(
        workbooks.template(layers()[layer]),
        media_type=workbooks.XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{layer}-template.xlsx"'},
    )
