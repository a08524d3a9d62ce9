"""Date-times from clients: a moment without an offset is read as China Standard Time.

Comparing a zone-less moment with one that has an offset raises in Python (a 500 once);
normalising every input to an aware moment in one place keeps the filters comparable.
"""

from datetime import date, datetime, timedelta, timezone
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "UTC+08:00")


def china_today() -> date:
    """Today's date in China (the API's clock; services take `today` as an argument)."""
    return datetime.now(CHINA_STANDARD_TIME).date()


def aware(moment: datetime) -> datetime:
    """The moment itself when it has an offset, else the same wall time in UTC+08:00."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_STANDARD_TIME)


def _aware_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else aware(moment)


UpdatedSince = Annotated[
    datetime | None,
    AfterValidator(_aware_or_none),
    Query(description="RFC 3339 date-time; without an offset it is read as UTC+08:00"),
]
