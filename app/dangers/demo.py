"""The demo's hidden-danger histories: each danger walked through the lifecycle's steps
(geodata/dangers/transitions.csv) up to the status the demo gave it, at times between its
finding and its closing (or the demo's day), so every view that reads the history — the
timeline, the statistics of fixed and overdue dangers, supervision — has something true to
read."""

import random
from collections import deque
from datetime import date, datetime, time, timedelta
from typing import Any

from app.dangers import rules
from app.datetimes import CHINA_STANDARD_TIME

# A share of major dangers placed under supervision (挂牌督办), by level.
SUPERVISED_SHARE = 0.6
SUPERVISION_WEIGHTS = {"city": 1, "district": 3, "street": 2}
ACTOR = "demo"


def _path(grade: str, target: str, *, via: str | None) -> list[rules.Step]:
    """The shortest run of steps from the first status to `target` (through `via` when
    given and on the way), for a danger of `grade`."""

    def shortest(start: str, goal: str) -> list[rules.Step] | None:
        seen = {start}
        queue: deque[tuple[str, list[rules.Step]]] = deque([(start, [])])
        while queue:
            status, steps = queue.popleft()
            if status == goal:
                return steps
            for step in rules.steps_from(status, grade):
                if step.target not in seen:
                    seen.add(step.target)
                    queue.append((step.target, [*steps, step]))
        return None

    start = rules.initial_status()
    if via is not None:
        first, rest = shortest(start, via), shortest(via, target)
        if first is not None and rest is not None:
            return first + rest
    found = shortest(start, target)
    if found is None:
        raise ValueError(f"no lifecycle path to {target!r} for a {grade} danger")
    return found


def supervision_for(rng: random.Random, grade: str, status: str) -> str | None:
    """The supervision level of a demo danger (None: not supervised)."""
    supervisable = rules.path_of(grade) == "major" and status not in ("reported", "assessed")
    if not supervisable or rng.random() >= SUPERVISED_SHARE:
        return None
    levels = list(SUPERVISION_WEIGHTS)
    return rng.choices(levels, weights=[SUPERVISION_WEIGHTS[x] for x in levels])[0]


def events(rng: random.Random, danger: dict[str, Any], *, as_of: date) -> list[dict[str, Any]]:
    """The history rows of one demo danger: its report, then one row per step (without
    the danger's id and county, known once it is written)."""
    grade, status = danger["grade"], danger["status"]
    level = danger.get("supervision_level")
    steps = _path(grade, status, via="supervised" if level else None)
    found: datetime = danger["found_at"]
    end = danger.get("closed_at") or min(
        datetime.combine(as_of, time(18), CHINA_STANDARD_TIME),
        max(found + timedelta(hours=1), datetime.now(CHINA_STANDARD_TIME)),
    )
    # Steps at increasing times between finding and the end, the last one at the end for
    # a closed danger.
    span = (end - found).total_seconds()
    offsets = sorted(rng.uniform(0.05, 0.95) * span for _ in steps)
    if danger.get("closed_at") is not None and offsets:
        offsets[-1] = span
    # Every row has every key: the rows are inserted as one batch.
    common = {
        "geom": danger["geom"],
        "username": ACTOR,
        "note": None,
        "grade": None,
        "deadline": None,
        "supervision_level": None,
    }
    rows = [
        {
            **common,
            "action": "report",
            "from_status": None,
            "to_status": rules.initial_status(),
            "at": found,
            "note": danger.get("description"),
        }
    ]
    for step, offset in zip(steps, offsets, strict=True):
        row = {
            **common,
            "action": step.action,
            "from_status": step.source,
            "to_status": step.target,
            "at": found + timedelta(seconds=offset),
        }
        if "grade" in step.requires:
            row["grade"] = grade
        if "deadline" in step.requires:
            row["deadline"] = danger["deadline"]
        if "supervision_level" in step.requires:
            row["supervision_level"] = level
        rows.append(row)
    return rows
