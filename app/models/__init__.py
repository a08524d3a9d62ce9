"""Every ORM model, imported in one place for Alembic and the app."""

from app.audit.models import AuditEntry
from app.auth.models import LoginFailure, User
from app.dangers.models import DangerEvent, EvidenceFile, HiddenDanger
from app.inspections.models import Inspection
from app.leads.models import Lead
from app.orm import Base
from app.regions.models import GridCell, Region, RegionPart
from app.risk.models import Assessment, RegionCount, RegionCountSnapshot, RiskPoint
from app.sites.models import EmergencyResource, Enterprise, HazardSource, PublicZone
from app.tiles.models import LayerVersion

__all__ = [
    "Assessment",
    "AuditEntry",
    "Base",
    "DangerEvent",
    "EmergencyResource",
    "Enterprise",
    "EvidenceFile",
    "GridCell",
    "HazardSource",
    "HiddenDanger",
    "Inspection",
    "LayerVersion",
    "Lead",
    "LoginFailure",
    "PublicZone",
    "Region",
    "RegionCount",
    "RegionCountSnapshot",
    "RegionPart",
    "RiskPoint",
    "User",
]
