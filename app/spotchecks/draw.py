"""The draw itself: a pure function of the seed and the pools, so anyone can repeat it.

Randomness comes from SHA-256 only, never from a library's generator (whose algorithms
may change between versions): each candidate's rank is the hash of `seed|target|<id>`
(targets) or `seed|inspector|<target id>|<user id>` (inspectors). Reproducing a draw needs
the stored pools, the seed and this file's rules, which a spreadsheet can follow:

1. Targets, stratified by colour: from each colour's pool the `k` lowest-ranked, where
   k = ceil(pool size × min(1, period days / that colour's spot-check interval)), so each
   enterprise is drawn as often as geodata/inspections/frequencies.csv says, on average.
2. Inspectors, per target in that order: the eligible users (no conflict with the target)
   with the fewest targets so far, ties broken by rank; `per_target` of them. A pool
   smaller than `per_target` is refused before drawing (app/spotchecks/service.py); a
   target whose conflicts leave fewer eligible users gets those there are and is marked
   `short`.

Inspectors are published under their display name only, never their account's login
name; an account without one is published as UNNAMED.
"""

import hashlib
import math
from typing import Any

METHOD = "sha256-rank/1"
LEVEL_ORDER = ("red", "orange", "yellow", "blue")
UNNAMED = "（未登记姓名）"


def rank(*parts: object) -> str:
    """The hex SHA-256 of the parts joined by '|': a candidate's place in the draw."""
    return hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()


def stratum_size(pool: int, period_days: int, interval_days: int) -> int:
    """How many of a colour's pool one period's draw takes."""
    return min(pool, math.ceil(pool * min(1.0, period_days / interval_days)))


def derive(seed: str, pools: dict[str, Any]) -> dict[str, Any]:
    """The targets and inspectors a seed draws from pools (see the module docstring)."""
    intervals: dict[str, int] = pools["intervals"]
    period_days: int = pools["period_days"]
    per_target: int = pools["per_target"]
    conflicts: dict[str, list[dict[str, Any]]] = pools["conflicts"]
    targets: list[dict[str, Any]] = []
    for level in LEVEL_ORDER:
        stratum = [t for t in pools["targets"] if t["risk_level"] == level]
        size = stratum_size(len(stratum), period_days, intervals[level])
        ranked = sorted(stratum, key=lambda t: rank(seed, "target", t["enterprise_id"]))
        targets.extend(ranked[:size])
    inspectors = {user["user_id"]: user for user in pools["inspectors"]}
    load = dict.fromkeys(inspectors, 0)
    drawn = []
    for target in targets:
        excluded = {c["user_id"] for c in conflicts.get(str(target["enterprise_id"]), [])}
        eligible = sorted(
            (user_id for user_id in inspectors if user_id not in excluded),
            key=lambda user_id: (
                load[user_id],
                rank(seed, "inspector", target["enterprise_id"], user_id),
            ),
        )
        chosen = eligible[:per_target]
        for user_id in chosen:
            load[user_id] += 1
        drawn.append(
            {
                **target,
                "inspectors": chosen,
                "inspector_names": [display_name(inspectors[u]) for u in chosen],
                "short": len(chosen) < per_target,
            }
        )
    assigned = [
        {
            **inspectors[user_id],
            "targets": [t["enterprise_id"] for t in drawn if user_id in t["inspectors"]],
        }
        for user_id in sorted(inspectors, key=lambda u: (inspectors[u]["username"], u))
        if load[user_id]
    ]
    return {"targets": drawn, "inspectors": assigned}


def display_name(user: dict[str, Any]) -> str:
    """The name an inspector is published under: the display name, else UNNAMED (a login
    name is an account, and accounts are not published)."""
    return str(user.get("display_name") or UNNAMED)


def drawn(result: dict[str, Any]) -> list[tuple[int, tuple[int, ...]]]:
    """What a draw decided, without how it is shown: each target's id and its inspectors'
    ids, in order (names may be registered after the draw)."""
    return [(t["enterprise_id"], tuple(t["inspectors"])) for t in result["targets"]]
