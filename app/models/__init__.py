"""Every ORM model, imported in one place for Alembic and the app."""

from app.audit.models import AuditEntry
from app.auth.models import LoginFailure, User
from app.blacklist.models import BlacklistEntry
from app.dangers.models import DangerEvent, EvidenceFile, HiddenDanger
from app.inspections.models import Inspection
from app.leads.models import Lead
from app.orm import Base
from app.regions.models import GridCell, Region, RegionPart
from app.risk.models import Assessment, RegionCount, RegionCountSnapshot, RiskPoint
from app.sites.models import EmergencyResource, Enterprise, HazardSource, PublicZone
from app.spotchecks.models import SpotCheckDraw
from app.statutory.models import EnforcementAction
from app.supervision.models import KeySupervisionEntry
from app.tiles.models import LayerVersion

__all__ = [
    "Assessment",
    "AuditEntry",
    "Base",
    "BlacklistEntry",
    "DangerEvent",
    "EmergencyResource",
    "EnforcementAction",
    "Enterprise",
    "EvidenceFile",
    "GridCell",
    "HazardSource",
    "HiddenDanger",
    "Inspection",
    "KeySupervisionEntry",
    "LayerVersion",
    "Lead",
    "LoginFailure",
    "PublicZone",
    "Region",
    "RegionCount",
    "RegionCountSnapshot",
    "RegionPart",
    "RiskPoint",
    "SpotCheckDraw",
    "User",
]
