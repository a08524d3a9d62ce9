"""Blacklist request bodies."""

from datetime import date
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from app.orm import INT4_MAX


class BlacklistIn(BaseModel):
    enterprise_id: int = Field(ge=1, le=INT4_MAX)
    reason: str = Field(min_length=1, max_length=2000, description="失信行为 / why it is listed")
    legal_basis: str = Field(
        min_length=1, max_length=500, description="e.g. 《安全生产严重失信主体名单管理办法》第五条"
    )
    decided_on: date = Field(description="date of the decision")
    listed_until: date = Field(description="last day of the listing period")
    published: bool = Field(True, description="shown on the public list")


class RemovalIn(BaseModel):
    removal: Literal["expired", "review"] = Field(
        description="expired: its period has ended; review: lifted on review (信用修复)"
    )
    note: str | None = Field(None, max_length=2000, description="required for a review")


# The map's filter (/api/features, /tiles): rows of enterprises listed today.
BlacklistedFilter = Annotated[
    bool,
    Query(
        description="true: only enterprises (or their hazard sources, risk points, hidden "
        "dangers) with a blacklist listing in force today"
    ),
]
