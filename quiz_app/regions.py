"""Tangshan's regions: the data file, loading it into the database, lookups."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from .extensions import db
from .models import Region

DATA_FILE = Path(__file__).parent / "data" / "regions.csv"
KINDS = {"district", "county", "city", "zone", "city_unit"}


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str
    kind: str
    population: int | None
    sort_order: int


def read_region_file(path: Path = DATA_FILE) -> list[RegionRow]:
    """Parse the regions CSV; raises ValueError on a malformed row."""
    rows: list[RegionRow] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for order, raw in enumerate(csv.DictReader(fh)):
            if raw["kind"] not in KINDS or not raw["code"].isascii():
                raise ValueError(f"bad region row: {raw}")
            pop = raw.get("population") or ""
            rows.append(
                RegionRow(
                    raw["code"],
                    raw["name"],
                    raw["kind"],
                    int(pop) if pop else None,
                    order,
                )
            )
    return rows


def sync_regions(path: Path = DATA_FILE) -> int:
    """Insert or update every region of the data file; returns how many. Commits."""
    existing = {r.code: r for r in db.session.scalars(select(Region))}
    rows = read_region_file(path)
    for row in rows:
        region = existing.get(row.code) or Region(code=row.code)
        region.name, region.kind = row.name, row.kind
        region.sort_order = row.sort_order
        # The file's population is a default: a blank one never erases what
        # an admin entered (`flask setup` runs at every start).
        if row.population is not None:
            region.population = row.population
        db.session.add(region)
    db.session.commit()
    _codes.clear()
    return len(rows)


def all_regions() -> list[Region]:
    """Regions in display order."""
    return list(db.session.scalars(select(Region).order_by(Region.sort_order)))


def get_region(code: str) -> Region | None:
    return db.session.get(Region, code)


_codes: set[str] = set()


def known_region(code: str | None) -> bool:
    """Whether `code` is a region, from a per-process set of the codes (the
    public board pages check it on every view). Regions come from the data
    file at `flask setup` and are never deleted, so the set only grows; the
    process that syncs clears its copy, other processes see a new code after
    their restart (a deploy)."""
    if not _codes:
        _codes.update(db.session.scalars(select(Region.code)))
    return code in _codes
