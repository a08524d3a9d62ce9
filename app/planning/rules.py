"""Planning rules as data: project kinds, protection-target classes, setbacks, zoning.

The files in geodata/planning are the built-in rule set (its version in VERSION). Admins
publish new versions through the API (stored whole in `planning_rule_sets`); a check uses
the newest published version unless it names one, and a saved report keeps the version
it was made with, so an old decision can be read with the rules it was made under.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput
from app.planning.models import PlanningRuleSet
from app.risk.gb18218 import SubstanceTerm
from app.risk.methods import read_csv
from app.settings import GEODATA_DIR

PLANNING_DIR = GEODATA_DIR / "planning"
TARGET_CLASSES = (
    "highly_sensitive",
    "important",
    "general_1",
    "general_2",
    "general_3",
    "low_density",
)
# GB 36894-2018 individual-risk levels a contour may be drawn at (per year).
RISK_LEVELS = (3e-7, 3e-6, 1e-5, 3e-5)


@dataclass(frozen=True)
class Setback:
    """One row of the setback table: from a hazard kind (within a band of one of its
    attributes) to a protection-target class."""

    rule: str
    hazard_kind: str
    band_attribute: str
    above: float | None
    up_to: float | None
    target_class: str
    distance_m: float
    standard: str
    clause: str
    confirmed: str

    def matches(self, hazard_kind: str, attributes: dict[str, Any], target_class: str) -> bool:
        """True when this row applies to the hazard (kind, attributes) and target class."""
        if self.hazard_kind != hazard_kind or self.target_class != target_class:
            return False
        if not self.band_attribute:
            return True
        value = attributes.get(self.band_attribute)
        if not isinstance(value, int | float):
            return False
        return (self.above is None or value > self.above) and (
            self.up_to is None or value <= self.up_to
        )

    @property
    def source_clause(self) -> str:
        """Standard and clause, as a report cites them."""
        return f"{self.standard} {self.clause}"


@dataclass(frozen=True)
class RuleSet:
    """One version of the planning rules."""

    version: str
    kinds: dict[str, Any]
    target_classes: dict[str, dict[str, Any]]
    setbacks: tuple[Setback, ...]
    existing: dict[str, Any]
    zoning: dict[str, Any]

    def setback(
        self, hazard_kind: str, attributes: dict[str, Any], target_class: str
    ) -> Setback | None:
        """The row for this hazard and target class (the largest if several match)."""
        rows = [r for r in self.setbacks if r.matches(hazard_kind, attributes, target_class)]
        return max(rows, key=lambda r: r.distance_m, default=None)

    def largest_for_target(self, target_class: str) -> float:
        """The largest setback any hazard needs from a target of this class."""
        return max(
            (r.distance_m for r in self.setbacks if r.target_class == target_class), default=0.0
        )

    def largest_for_hazard(self, hazard_kind: str, attributes: dict[str, Any]) -> float:
        """The largest setback this hazard needs from any target class."""
        return max(
            (
                row.distance_m
                for cls in TARGET_CLASSES
                if (row := self.setback(hazard_kind, attributes, cls))
            ),
            default=0.0,
        )

    def largest_for_kinds(self, prefix: str) -> float:
        """The largest setback of any hazard kind named with this prefix."""
        return max(
            (r.distance_m for r in self.setbacks if r.hazard_kind.startswith(prefix)),
            default=0.0,
        )

    def target_class_for(self, declared: str, people: int | None) -> str:
        """A target's class: declared by its kind, or by the number of people in it."""
        if declared != "by_people":
            return declared
        if people is None:
            return "general_3"
        for cls in ("general_1", "general_2"):
            if people >= int(self.target_classes[cls]["min_people"]):
                return cls
        return "general_3"

    def criterion(self, target_class: str, *, existing_hazard: bool) -> float | None:
        """The GB 36894 individual-risk criterion (per year) protecting this class."""
        row = self.target_classes.get(target_class, {})
        value = row.get("risk_existing" if existing_hazard else "risk_new")
        return float(value) if value else None

    def document(self) -> dict[str, Any]:
        """The rule set as stored and served."""
        return {
            "version": self.version,
            "kinds": self.kinds,
            "target_classes": self.target_classes,
            "setbacks": [setback_json(s) for s in self.setbacks],
            "existing": self.existing,
            "zoning": self.zoning,
        }


def setback_json(row: Setback) -> dict[str, Any]:
    """A setback row as JSON."""
    return {
        "rule": row.rule,
        "hazard_kind": row.hazard_kind,
        "band_attribute": row.band_attribute,
        "above": row.above,
        "up_to": row.up_to,
        "target_class": row.target_class,
        "distance_m": row.distance_m,
        "standard": row.standard,
        "clause": row.clause,
        "confirmed": row.confirmed,
    }


def _optional(text: str) -> float | None:
    return float(text) if text else None


def _json(name: str) -> dict[str, Any]:
    with (PLANNING_DIR / name).open(encoding="utf-8") as file:
        data: dict[str, Any] = json.load(file)
    return data


def rule_set_from(document: dict[str, Any]) -> RuleSet:
    """Build a rule set from its stored document."""
    return RuleSet(
        version=document["version"],
        kinds=document["kinds"],
        target_classes=document["target_classes"],
        setbacks=tuple(Setback(**row) for row in document["setbacks"]),
        existing=document["existing"],
        zoning=document["zoning"],
    )


@cache
def builtin_rule_set() -> RuleSet:
    """The rule set of the data files in geodata/planning."""
    setbacks = tuple(
        Setback(
            rule=row["rule"],
            hazard_kind=row["hazard_kind"],
            band_attribute=row["band_attribute"],
            above=_optional(row["above"]),
            up_to=_optional(row["up_to"]),
            target_class=row["target_class"],
            distance_m=float(row["distance_m"]),
            standard=row["standard"],
            clause=row["clause"],
            confirmed=row["confirmed"],
        )
        for row in read_csv(PLANNING_DIR / "setbacks.csv")
    )
    classes = {row["class"]: row for row in read_csv(PLANNING_DIR / "target_classes.csv")}
    return RuleSet(
        version=(PLANNING_DIR / "VERSION").read_text(encoding="utf-8").strip(),
        kinds=_json("kinds.json")["kinds"],
        target_classes=classes,
        setbacks=setbacks,
        existing=_json("existing.json"),
        zoning=_json("zoning.json"),
    )


_STORED: dict[int, RuleSet] = {}


def _stored(session: Session, id: int) -> RuleSet:
    """A published version, read once per process: a version never changes once published
    (its rules are read only the first time a check names it or finds it newest)."""
    if id not in _STORED:
        rules = session.scalars(select(PlanningRuleSet.rules).where(PlanningRuleSet.id == id)).one()
        _STORED[id] = rule_set_from(rules)
    return _STORED[id]


def rule_set(session: Session, version: str | None = None) -> RuleSet:
    """The named version, or the newest published one (the built-in set before any)."""
    builtin = builtin_rule_set()
    if version == builtin.version:
        return builtin
    statement = select(PlanningRuleSet.id)
    if version is not None:
        statement = statement.where(PlanningRuleSet.version == version)
    found = session.scalars(
        statement.order_by(PlanningRuleSet.published_at.desc(), PlanningRuleSet.id.desc()).limit(1)
    ).first()
    if found is None:
        if version is not None:
            raise InvalidInput(f"rule set {version!r} not found", field="rule_set_version")
        return builtin
    return _stored(session, found)


def kind_or_raise(rules: RuleSet, kind: str) -> dict[str, Any]:
    """The definition of a project kind, or 422 listing the kinds."""
    found = rules.kinds.get(kind)
    if found is None:
        raise InvalidInput(
            f"unknown project kind {kind!r}", field="kind", allowed=list(rules.kinds)
        )
    definition: dict[str, Any] = found
    return definition


def check_attributes(definition: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes a kind needs, checked against its limits (422 naming the attribute)."""
    checked: dict[str, Any] = {}
    for name, spec in definition["attributes"].items():
        field = f"attributes.{name}"
        value = attributes.get(name)
        if value is None:
            if spec.get("required"):
                raise InvalidInput(f"{name} is required for this kind", field=field)
            continue
        if spec["type"] == "substances":
            checked[name] = value  # checked by GB 18218's own parser (grading.parse_substances)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{name} must be a number", field=field)
        if spec["type"] == "integer" and not float(value).is_integer():
            raise InvalidInput(f"{name} must be a whole number", field=field)
        if not spec["min"] <= value <= spec["max"]:
            raise InvalidInput(
                f"{name} must lie in {spec['min']:g}…{spec['max']:g}, got {value:g}", field=field
            )
        checked[name] = int(value) if spec["type"] == "integer" else float(value)
    unknown = sorted(set(attributes) - set(definition["attributes"]))
    if unknown:
        raise InvalidInput(
            f"{unknown[0]!r} is not an attribute of this kind",
            field=f"attributes.{unknown[0]}",
            allowed=list(definition["attributes"]),
        )
    return checked


def substance_class(rules: RuleSet, terms: Sequence[SubstanceTerm]) -> str:
    """The most severe substance class of a unit's GB 18218 terms (a Table 3 toxic gas is
    toxic whatever its category)."""
    classes = rules.existing["substance_classes"]
    present = {t.category for t in terms if t.category}
    for name in ("explosive", "toxic", "flammable"):
        if present & set(classes[name]) or (
            name == "toxic" and any(t.beta_table == 3 for t in terms)
        ):
            return name
    return "other"


def publish(
    session: Session,
    *,
    version: str,
    note: str | None,
    setbacks: list[dict[str, Any]] | None,
    park_allowed_classes: Sequence[str] | None,
    published_by: str | None,
) -> PlanningRuleSet:
    """Publish a new version: the current rules with the given parts replaced."""
    if version == builtin_rule_set().version or session.scalar(
        select(PlanningRuleSet.id).where(PlanningRuleSet.version == version)
    ):
        raise Conflict(f"rule set {version!r} already exists", field="version")
    document = rule_set(session).document()
    document["version"] = version
    if setbacks is not None:
        unknown = sorted({s["hazard_kind"] for s in setbacks} - _hazard_kinds(document))
        if unknown:
            raise InvalidInput(f"unknown hazard kind {unknown[0]!r}", field="setbacks.hazard_kind")
        document["setbacks"] = setbacks
    if park_allowed_classes is not None:
        document["zoning"] = {
            **document["zoning"],
            "park_allowed_classes": list(park_allowed_classes),
        }
    row = PlanningRuleSet(version=version, rules=document, note=note, published_by=published_by)
    session.add(row)
    session.flush()
    session.refresh(row)
    return row


def _hazard_kinds(document: dict[str, Any]) -> set[str]:
    kinds = {k["hazard_kind"] for k in document["kinds"].values() if k["role"] == "hazard"}
    classes = ("explosive", "toxic", "flammable", "other")
    return (kinds - {"major_hazard_source"}) | {f"major_hazard_source.{c}" for c in classes}


def summary(row: PlanningRuleSet) -> dict[str, Any]:
    """A published version's summary."""
    return {
        "version": row.version,
        "published_by": row.published_by,
        "published_at": row.published_at.isoformat(),
        "note": row.note,
    }


def list_versions(session: Session) -> dict[str, Any]:
    """Every version, newest first, and the one checks use now."""
    rows = session.scalars(
        select(PlanningRuleSet).order_by(PlanningRuleSet.published_at.desc())
    ).all()
    builtin = {
        "version": builtin_rule_set().version,
        "published_by": None,
        "published_at": None,
        "note": "built in: geodata/planning",
    }
    return {
        "current": rows[0].version if rows else builtin["version"],
        "versions": [summary(r) for r in rows] + [builtin],
    }
