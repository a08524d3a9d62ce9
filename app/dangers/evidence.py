"""Photos as evidence: checked by their bytes, stored once under their SHA-256."""

import hashlib
import io
import os
import tempfile
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.dangers.models import EvidenceFile, HiddenDanger
from app.errors import InvalidInput, NotFound, TooLarge
from app.settings import get_settings

MAX_PHOTO_BYTES = 5 * 1024 * 1024
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")


def evidence_dir() -> Path:
    """Where photos are kept: data_dir/evidence."""
    return get_settings().data_dir / "evidence"


def sniff_photo(data: bytes) -> str | None:
    """The image type its magic bytes say (JPEG, PNG, WebP), None for anything else.

    The client's Content-Type and file name are not trusted: they are whatever it says.
    """
    if data.startswith(b"\xff\xd8\xff"):
        claimed = "image/jpeg"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        claimed = "image/png"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        claimed = "image/webp"
    else:
        return None
    # The right first bytes on a cut-off or damaged file are not a photo: Pillow reads the
    # structure (chunks and their checksums) without decoding the pixels.
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return claimed


def store_photo(
    session: Session, *, danger: HiddenDanger, data: bytes, filename: str | None, scope: Scope
) -> EvidenceFile:
    """Check and store a photo for the danger; its metadata row names the file by SHA-256.

    The file is written before the row commits: a failed transaction leaves at most a file
    no row names, which the same upload later reuses (the name is its content's hash).
    """
    if len(data) > MAX_PHOTO_BYTES:
        raise TooLarge(f"the photo is larger than {MAX_PHOTO_BYTES} bytes", field="file")
    content_type = sniff_photo(data)
    if content_type is None:
        raise InvalidInput(
            "the file is not a whole JPEG, PNG or WebP image",
            field="file",
            allowed=list(PHOTO_TYPES),
        )
    digest = hashlib.sha256(data).hexdigest()
    directory = evidence_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / digest
    if not target.exists():
        # Written whole under a temporary name, then renamed: readers never see half a file.
        with tempfile.NamedTemporaryFile(dir=directory, delete=False) as temporary:
            temporary.write(data)
        os.replace(temporary.name, target)
    row = EvidenceFile(
        county_code=danger.county_code,
        danger_id=danger.id,
        sha256=digest,
        content_type=content_type,
        size_bytes=len(data),
        filename=filename[:200] if filename else None,
        user_id=scope.user_id,
    )
    session.add(row)
    session.flush()
    return row


def photo_or_raise(session: Session, *, danger: HiddenDanger, sha256: str) -> EvidenceFile:
    """The danger's stored photo with this hash, else 404."""
    row = session.scalars(
        select(EvidenceFile).where(
            EvidenceFile.danger_id == danger.id, EvidenceFile.sha256 == sha256
        )
    ).first()
    if row is None or not (evidence_dir() / sha256).exists():
        raise NotFound(f"photo {sha256} of hidden danger {danger.id} not found", field="sha256")
    return row


def render_photo(row: EvidenceFile) -> dict[str, object]:
    """A photo's metadata for the API."""
    return {
        "sha256": row.sha256,
        "content_type": row.content_type,
        "size": row.size_bytes,
        "filename": row.filename,
        "uploaded_at": row.uploaded_at.isoformat(),
    }
