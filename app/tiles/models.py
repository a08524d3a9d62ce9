"""Layer versions: bumped by every write, so caches key on them and never serve stale tiles."""

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base


class LayerVersion(Base):
    """The current version of one map layer's data."""

    __tablename__ = "layer_versions"

    layer: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
