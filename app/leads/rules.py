"""Lead kinds as data (geodata/leads/kinds.csv, with their sources)."""

import csv
from dataclasses import dataclass
from functools import cache

from app.settings import GEODATA_DIR

KINDS_CSV = GEODATA_DIR / "leads" / "kinds.csv"


@dataclass(frozen=True)
class LeadKindInfo:
    kind: str
    name_zh: str
    public: bool
    source: str


@cache
def kinds() -> dict[str, LeadKindInfo]:
    """Every lead kind by name, in file order."""
    with KINDS_CSV.open(encoding="utf-8") as file:
        return {
            row["kind"]: LeadKindInfo(
                row["kind"], row["name_zh"], row["public"] == "yes", row["source"]
            )
            for row in csv.DictReader(file)
        }
