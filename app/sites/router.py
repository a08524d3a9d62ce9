"""Endpoints for enterprises, major hazard sources, public zones and emergency resources."""

from functools import partial
from typing import Any

from app.crud import add_crud_routes
from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.sites import emergency, service
from app.sites.models import EmergencyResource, Enterprise, HazardSource, PublicZone
from app.sites.schemas import (
    EmergencyResourceIn,
    EmergencyResourceOut,
    EmergencyResourcePatch,
    EnterpriseIn,
    EnterpriseOut,
    EnterprisePatch,
    HazardAssessIn,
    HazardSourceIn,
    HazardSourceOut,
    HazardSourcePatch,
    PublicZoneIn,
    PublicZoneOut,
    PublicZonePatch,
)

router = api_router(prefix="/api", tags=["sites"])


@router.post("/hazard-sources/assess")
def assess_hazard_source(
    body: HazardAssessIn, session: SessionDep, scope: ScopeDep
) -> dict[str, Any]:
    """Identify (S = Σq/Q) and grade (R = α·Σβq/Q) a unit by GB 18218-2018 without storing it.

    With a plant geometry, α counts the people of the public zones the caller may read."""
    return service.assess_hazard(session, body=body, scope=scope)


add_crud_routes(
    router,
    path="/enterprises",
    model=Enterprise,
    render=service.render_enterprise,
    create=service.create_enterprise,
    update=service.update_enterprise,
    delete=partial(service.delete_located, Enterprise),
    create_schema=EnterpriseIn,
    patch_schema=EnterprisePatch,
    name="enterprises",
    out_schema=EnterpriseOut,
)
add_crud_routes(
    router,
    path="/hazard-sources",
    model=HazardSource,
    render=service.render_hazard_source,
    create=service.create_hazard_source,
    update=service.update_hazard_source,
    delete=partial(service.delete_located, HazardSource),
    create_schema=HazardSourceIn,
    patch_schema=HazardSourcePatch,
    name="hazard_sources",
    out_schema=HazardSourceOut,
)
add_crud_routes(
    router,
    path="/public-zones",
    model=PublicZone,
    render=service.render_public_zone,
    create=service.create_public_zone,
    update=service.update_public_zone,
    delete=partial(service.delete_located, PublicZone),
    create_schema=PublicZoneIn,
    patch_schema=PublicZonePatch,
    name="public_zones",
    out_schema=PublicZoneOut,
)
add_crud_routes(
    router,
    path="/emergency-resources",
    model=EmergencyResource,
    render=emergency.render_emergency_resource,
    create=emergency.create_emergency_resource,
    update=emergency.update_emergency_resource,
    delete=emergency.delete_emergency_resource,
    create_schema=EmergencyResourceIn,
    patch_schema=EmergencyResourcePatch,
    name="emergency_resources",
    out_schema=EmergencyResourceOut,
)
