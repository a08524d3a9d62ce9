"""Statutory-table request bodies and query formats."""

from datetime import date
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from app.orm import INT4_MAX

Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
Quarter = Annotated[str | None, Query(pattern=r"^\d{4}-Q[1-4]$", description="YYYY-Qn")]
Year = Annotated[int | None, Query(ge=2000, le=2100, description="a whole year")]
Region = Annotated[str | None, Query(pattern=r"^\d{6}$", description="region code")]
Format = Annotated[Literal["json", "xlsx"], Query(description="JSON or an XLSX workbook")]


class EnforcementIn(BaseModel):
    kind: Literal["punished", "banned", "closed"] = Field(
        description="punished 惩治违法行为, banned 取缔非法违法企业, closed 关闭不符合条件企业"
    )
    enterprise_id: int | None = Field(None, ge=1, le=INT4_MAX)
    unit_name: str | None = Field(
        None, min_length=1, max_length=200, description="needed without enterprise_id"
    )
    county_code: str | None = Field(
        None, pattern=r"^\d{6}$", description="needed without enterprise_id"
    )
    decided_on: date
    description: str = Field(min_length=1, max_length=2000)
    legal_basis: str | None = Field(None, max_length=500)
    fine_yuan: float | None = Field(None, ge=0, le=1e12, description="yuan, kept to the fen")
