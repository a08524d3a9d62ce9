"""The hidden-danger lifecycle as data: grades, statuses, steps, plan items, supervision.

Everything here is read from geodata/dangers/*.csv (each row with its source), so a
province changes its steps, who takes them or its grades without a code change.
"""

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app.settings import GEODATA_DIR

DANGERS_DIR = GEODATA_DIR / "dangers"
# Requirements a step may name (transitions.csv `requires`); plan and five_items name the
# item lists of plan_items.csv.
REQUIREMENTS = frozenset(
    {"grade", "plan", "five_items", "deadline", "supervision_level", "evidence", "note"}
)
ANY_PATH = "any"


@dataclass(frozen=True)
class Step:
    """One legal transition: `action` moves a danger from `source` to `target`."""

    action: str
    source: str
    target: str
    path: str  # "major", "general" or "any": the grades' treatment path it applies to
    roles: frozenset[str]
    requires: frozenset[str]
    name_zh: str


@dataclass(frozen=True)
class Grade:
    """A hidden-danger grade, the provinces using it and its treatment path."""

    grade: str
    name_zh: str
    provinces: tuple[str, ...] | None  # two-digit province prefixes; None: everywhere
    path: str

    def used_in(self, county_code: str) -> bool:
        """True when the grade exists in the province of this county."""
        return self.provinces is None or county_code[:2] in self.provinces


@dataclass(frozen=True)
class Status:
    """A lifecycle status: still open? does its deadline run (overdue counts)?"""

    status: str
    name_zh: str
    open: bool
    deadline_runs: bool


@dataclass(frozen=True)
class SupervisionLevel:
    """A 挂牌督办 level, its rank (street 1 < district 2 < city 3) and days to respond."""

    level: str
    rank: int
    name_zh: str
    days_to_respond: int


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


@cache
def steps() -> tuple[Step, ...]:
    """Every legal transition, in file order."""
    result = []
    for row in _rows(DANGERS_DIR / "transitions.csv"):
        requires = frozenset(r for r in row["requires"].split(";") if r)
        unknown = requires - REQUIREMENTS
        if unknown:
            raise ValueError(f"transitions.csv: {row['action']} requires unknown {unknown}")
        result.append(
            Step(
                action=row["action"],
                source=row["from_status"],
                target=row["to_status"],
                path=row["path"],
                roles=frozenset(row["roles"].split(";")),
                requires=requires,
                name_zh=row["step_zh"],
            )
        )
    return tuple(result)


@cache
def grades() -> dict[str, Grade]:
    """Grades by name."""
    return {
        row["grade"]: Grade(
            grade=row["grade"],
            name_zh=row["name_zh"],
            provinces=None if row["provinces"] == "*" else tuple(row["provinces"].split(";")),
            path=row["path"],
        )
        for row in _rows(DANGERS_DIR / "grades.csv")
    }


def deadline_running() -> list[str]:
    """The statuses in which a danger's deadlines run (it may be overdue)."""
    return [status.status for status in statuses().values() if status.deadline_runs]


@cache
def statuses() -> dict[str, Status]:
    """Statuses by name."""
    return {
        row["status"]: Status(
            status=row["status"],
            name_zh=row["name_zh"],
            open=row["open"] == "yes",
            deadline_runs=row["deadline_runs"] == "yes",
        )
        for row in _rows(DANGERS_DIR / "statuses.csv")
    }


def initial_status() -> str:
    """The status a reported danger starts in: the first of statuses.csv."""
    return next(iter(statuses()))


@cache
def plan_items() -> dict[str, tuple[str, ...]]:
    """Item names of each plan kind: 'plan' (major, six items) and 'five_items' (五落实)."""
    items: dict[str, list[str]] = {}
    for row in _rows(DANGERS_DIR / "plan_items.csv"):
        items.setdefault(row["plan"], []).append(row["item"])
    return {kind: tuple(names) for kind, names in items.items()}


@cache
def plan_item_names() -> dict[tuple[str, str], str]:
    """The Chinese name of each (plan kind, item)."""
    return {
        (row["plan"], row["item"]): row["name_zh"] for row in _rows(DANGERS_DIR / "plan_items.csv")
    }


@cache
def supervision_levels() -> dict[str, SupervisionLevel]:
    """Supervision levels by name, lowest rank first."""
    levels = [
        SupervisionLevel(
            level=row["level"],
            rank=int(row["rank"]),
            name_zh=row["name_zh"],
            days_to_respond=int(row["days_to_respond"]),
        )
        for row in _rows(DANGERS_DIR / "supervision_levels.csv")
    ]
    return {level.level: level for level in sorted(levels, key=lambda level: level.rank)}


def next_supervision_level(level: str | None) -> str | None:
    """The level an overdue danger escalates to (None: already at the top)."""
    ordered = list(supervision_levels())
    if level is None:
        return ordered[0]
    position = ordered.index(level)
    return ordered[position + 1] if position + 1 < len(ordered) else None


def path_of(grade: str) -> str:
    """The treatment path ('major' or 'general') of a grade."""
    return grades()[grade].path


def steps_from(status: str, grade: str) -> list[Step]:
    """The steps legal from `status` for a danger of `grade`."""
    path = path_of(grade)
    return [step for step in steps() if step.source == status and step.path in (ANY_PATH, path)]


def actions() -> list[str]:
    """Every action name, once each."""
    return list(dict.fromkeys(step.action for step in steps()))
