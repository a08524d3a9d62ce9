"""Demo chemical parks: Ningxia's parks as outlines around the enterprises placed in them.

The outlines are plausible, not surveyed: the concave hull of each park's demo enterprises
(app/sites/demo.py places them around the park centres of geodata/demo/places.json),
widened by 400 m so every one of them lies inside. The classes and scores are invented for
the demo (宁东 and 石嘴山/中卫 allowed for new hazardous-chemical projects, two others not).
"""

from sqlalchemy import text
from sqlalchemy.orm import Session

# park name → (safety-risk class, score of 化工园区安全风险排查治理导则), invented for the demo.
DEMO_PARKS = {
    "宁东能源化工基地": ("D", 88.0),
    "石嘴山经济技术开发区": ("C", 78.0),
    "中卫工业园区": ("C", 74.0),
    "银川经济技术开发区": ("B", 66.0),
    "吴忠金积工业园区": ("B", 63.0),
}
MARGIN_M = 400


def load_demo_parks(session: Session) -> dict[str, int]:
    """Replace the chemical parks with outlines around the demo's park enterprises."""
    session.execute(text("DELETE FROM chemical_parks"))
    for name, (risk_class, score) in DEMO_PARKS.items():
        session.execute(
            text(
                """
                INSERT INTO chemical_parks (name, risk_class, score, approval, geom)
                SELECT CAST(:name AS text), :class, :score, '演示数据（非真实认定）',
                       ST_Multi(ST_Buffer(ST_ConcaveHull(ST_Collect(e.geom), 0.4)::geography,
                                          :margin)::geometry)
                  FROM enterprises e WHERE e.park = CAST(:name AS text)
                HAVING count(*) >= 3"""
            ),
            {"name": name, "class": risk_class, "score": score, "margin": MARGIN_M},
        )
    made: int = session.execute(text("SELECT count(*) FROM chemical_parks")).scalar_one()
    return {"chemical_parks": made}
