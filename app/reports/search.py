"""Search: regions by name or code (public), enterprises by name or unified social credit
code (those the caller may read), each with where to fly."""

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.cluster import routing
from app.errors import InvalidInput

# Any run of at least 4 characters of a credit code (GB 32100 alphabet) is looked for inside
# the codes, so the last digits read off a licence find it too.
_CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{4,18}$")


def search(session: Session, *, q: str, scope: Scope, limit: int = 10) -> dict[str, Any]:
    """Regions by name or code (public); enterprises (those the caller may read) by name,
    by any part of the credit code, or by a hazardous substance their major hazard sources
    hold (e.g. 液氯); each with where to fly."""
    q = q.strip()
    if not q:
        raise InvalidInput("q must not be empty", field="q")
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    regions = (
        session.execute(
            text("""
        SELECT code, name, level, is_leaf, ST_X(label_point) AS lon, ST_Y(label_point) AS lat,
               ST_XMin(geom_coarse) AS x0, ST_YMin(geom_coarse) AS y0,
               ST_XMax(geom_coarse) AS x1, ST_YMax(geom_coarse) AS y1,
               (SELECT p.name FROM regions p WHERE p.code = regions.parent_code) AS parent_name
          FROM regions
         WHERE (name LIKE :like OR code = :q)
         ORDER BY (name = :q) DESC, CASE level WHEN 'province' THEN 0 WHEN 'city' THEN 1 ELSE 2 END,
                  length(name), code
         LIMIT :limit
    """),
            {"like": like, "q": q, "limit": limit},
        )
        .mappings()
        .all()
    )
    credit = q.upper()
    visible = scope.filters("enterprises")
    same_shard = routing.same_shard(session.connection(), ("h", "e"))
    enterprises = (
        []
        if not scope.can_read("enterprises")
        else session.execute(
            text(f"""
        SELECT e.id, e.name, e.credit_code, e.sector, e.risk_level, e.county_code,
               ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat, r.name AS county_name,
               (SELECT s ->> 'name' FROM hazard_sources h, jsonb_array_elements(h.substances) s
                 WHERE h.enterprise_id = e.id{same_shard} AND s ->> 'name' LIKE :like
                 LIMIT 1) AS substance
          FROM enterprises e JOIN regions r ON r.code = e.county_code
         WHERE (e.name LIKE :like
                OR (CAST(:credit AS text) IS NOT NULL
                    AND e.credit_code LIKE '%' || CAST(:credit AS text) || '%')
                OR EXISTS (SELECT 1 FROM hazard_sources h, jsonb_array_elements(h.substances) s
                            WHERE h.enterprise_id = e.id{same_shard}
                              AND s ->> 'name' LIKE :like))
           AND {visible.where("e")}
         ORDER BY (e.credit_code = :q_upper) DESC, (e.name = :q) DESC,
                  (e.credit_code LIKE :q_upper || '%') DESC, length(e.name), e.id
         LIMIT :limit
    """),
            {
                **visible.params(),
                "like": like,
                "credit": credit if _CREDIT_CODE.match(credit) else None,
                "q": q,
                "q_upper": credit,
                "limit": limit,
            },
        )
        .mappings()
        .all()
    )
    items = [
        {
            "type": "region",
            "code": r["code"],
            "name": r["name"],
            "level": r["level"],
            "is_leaf": r["is_leaf"],
            "context": r["parent_name"] or "",
            "lon": round(r["lon"], 6),
            "lat": round(r["lat"], 6),
            "bbox": [round(r[k], 5) for k in ("x0", "y0", "x1", "y1")],
        }
        for r in regions
        # A municipality's city level repeats its name (北京市 › 北京市): one hit, the
        # province, is enough.
        if r["name"] != r["parent_name"]
    ]
    items += [
        {
            "type": "enterprise",
            "id": e["id"],
            "name": e["name"],
            "credit_code": e["credit_code"],
            "sector": e["sector"],
            "level": e["risk_level"],
            "county_code": e["county_code"],
            "context": e["county_name"],
            "substance": e["substance"],
            "lon": round(e["lon"], 6),
            "lat": round(e["lat"], 6),
        }
        for e in enterprises
    ]
    return {"q": q, "items": items}
