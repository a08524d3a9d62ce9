"""Request shapes for spot-check draws."""

from pydantic import BaseModel, Field


class DrawIn(BaseModel):
    """A draw for a region and period; the seed is chosen at random unless given."""

    region: str = Field(pattern=r"^\d{6}$", description="region code (city or county)")
    period: str = Field(
        pattern=r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$",
        description="2026-11 (month), 2026-Q4 (quarter) or 2026 (year)",
    )
    seed: str | None = Field(
        None, pattern=r"^[0-9A-Za-z_-]{1,64}$", description="repeat a draw with its seed"
    )
