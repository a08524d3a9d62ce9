"""Required inspection frequencies by risk colour, from geodata/inspections/frequencies.csv."""

import csv
from functools import cache

from app.settings import GEODATA_DIR

FREQUENCIES_CSV = GEODATA_DIR / "inspections" / "frequencies.csv"


@cache
def frequencies() -> dict[str, dict[str, int]]:
    """Days between inspections by kind, then risk level (e.g. self_check → red → 1)."""
    result: dict[str, dict[str, int]] = {}
    with FREQUENCIES_CSV.open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            result.setdefault(row["kind"], {})[row["risk_level"]] = int(row["interval_days"])
    return result
