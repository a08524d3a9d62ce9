"""FastAPI dependency aliases, declared once."""

import re
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.orm import Session

from app.db import get_session
from app.errors import InvalidInput

SessionDep = Annotated[Session, Depends(get_session)]

_JURISDICTION = re.compile(r"^\d{0,6}$")


async def get_jurisdiction(
    x_jurisdiction: Annotated[str, Header(description="region code prefix",
                                          pattern=r"^\s*\d{0,6}\s*$")] = "",
) -> str:
    """Return the region-code prefix the caller may read ('' = the whole country).

    Accounts will replace the header with the user's own jurisdiction; every read path
    already filters by it.
    """
    prefix = (x_jurisdiction or "").strip()
    if not _JURISDICTION.match(prefix):
        raise InvalidInput(
            f"jurisdiction {prefix!r} is not a region code prefix (up to 6 digits)",
            field="X-Jurisdiction",
        )
    # 640000 means 'Ningxia': compare on the significant digits only.
    return prefix.rstrip("0") if len(prefix) == 6 else prefix


JurisdictionDep = Annotated[str, Depends(get_jurisdiction)]
