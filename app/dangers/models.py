"""Hidden dangers."""

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, Located
from app.sites.models import ResponsiblePersons

DANGER_GRADES = ("general", "larger", "major")
DANGER_STATUSES = ("reported", "assessed", "rectifying", "accepted", "closed")


class HiddenDanger(Located, ResponsiblePersons, Base):
    """A hidden danger (事故隐患) found at an enterprise or public zone."""

    __tablename__ = "hidden_dangers"
    __table_args__ = (
        CheckConstraint("grade IN ('general','larger','major')", name="grade"),
        CheckConstraint(
            "status IN ('reported','assessed','rectifying','accepted','closed')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    risk_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("risk_points.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    grade: Mapped[str] = mapped_column(String(8), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="reported", index=True)
    deadline: Mapped[date | None] = mapped_column(Date)
    found_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
