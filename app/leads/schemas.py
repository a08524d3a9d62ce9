"""Request shapes for leads and tip-offs."""

from typing import Literal

from pydantic import BaseModel, Field

from app.dangers.schemas import RowRef
from app.geo.location import Crs

LeadKind = Literal[
    "new_enterprise",
    "closed_enterprise",
    "moved_enterprise",
    "unregistered",
    "illegal_operation",
    "other",
]
PublicKind = Literal["unregistered", "illegal_operation", "other"]
LeadStatus = Literal["new", "confirmed", "dismissed"]
LeadSource = Literal["warden", "official", "public"]


class _Where(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: Crs = "wgs84"


class LeadIn(_Where):
    """A patrol lead: what changed in the grid, where (a warden inside their cells)."""

    kind: LeadKind
    description: str = Field(min_length=1, max_length=2000)
    name: str | None = Field(None, max_length=200, description="the operation's name if known")
    address: str | None = Field(None, max_length=300)
    enterprise_id: RowRef | None = Field(
        None, description="the registered enterprise it is about (closed, moved)"
    )


class TipOffIn(_Where):
    """A tip-off (举报) from the public: no sign-in; a contact only if the sender wants."""

    kind: PublicKind
    description: str = Field(min_length=5, max_length=2000)
    name: str | None = Field(None, max_length=200)
    address: str | None = Field(None, max_length=300)
    contact: str | None = Field(None, max_length=100, description="phone or e-mail (optional)")


class DecisionIn(BaseModel):
    """An official's decision: confirm (optionally naming the enterprise), dismiss, or link
    a confirmed lead to an enterprise."""

    action: Literal["confirm", "dismiss", "link"]
    enterprise_id: RowRef | None = None
    note: str | None = Field(None, max_length=2000)
