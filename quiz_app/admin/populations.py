"""Region populations (for the staff dashboards' per-10,000 figures): set by
admins on /admin/regions or by `flask regions population`, all or nothing."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import select

from ..auth.services import add_audit
from ..db import begin_write
from ..extensions import db
from ..models import Region, User
from ..params import parse_int

MIN_POPULATION = 1
MAX_POPULATION = 20_000_000
RANGE_MESSAGE = (
    f"人口应为 {MIN_POPULATION} 到 {MAX_POPULATION:,} 之间的整数，或留空表示未知"
)


class PopulationError(ValueError):
    """Bad values, keyed by region code (pages) or by line (files)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def parse_population(raw: str | None) -> tuple[bool, int | None]:
    """(ok, value): blank is (True, None) = unknown; thousands separators and
    spaces are allowed (12,345)."""
    text = (raw or "").strip().replace(",", "").replace("，", "").replace(" ", "")
    if not text:
        return True, None
    value = parse_int(text, lo=MIN_POPULATION, hi=MAX_POPULATION)
    return value is not None, value


def set_populations(
    values: dict[str, int | None],
    *,
    actor: User | None,
    ip: str | None,
    now: datetime,
) -> int:
    """Set the populations of the given regions (code -> value or None) in one
    commit with one audit event per changed region; returns how many changed.
    Raises PopulationError (unknown code, out of range) and changes nothing."""
    problems = {}
    for code, value in values.items():
        if value is not None and not MIN_POPULATION <= value <= MAX_POPULATION:
            problems[code] = RANGE_MESSAGE
    begin_write()
    regions = {
        r.code: r
        for r in db.session.scalars(
            select(Region).where(Region.code.in_(list(values))).with_for_update()
        )
    }
    for code in values:
        if code not in regions:
            problems[code] = "未知的区县代码"
    if problems:
        db.session.rollback()
        raise PopulationError(problems)
    changed = 0
    for code, value in values.items():
        region = regions[code]
        if region.population != value:
            before = region.population
            region.population = value
            changed += 1
            add_audit(
                "region_population",
                outcome="ok",
                actor=actor,
                ip=ip,
                obj=f"region:{code} from:{'-' if before is None else before}"
                f" to:{'-' if value is None else value}",
                now=now,
            )
    db.session.commit()
    return changed


def read_population_file(data: bytes) -> dict[str, int | None]:
    """code,population rows (a header line `code,population` is optional);
    raises PopulationError keyed by "第N行" for every bad line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PopulationError({"第1行": "文件应为 UTF-8 编码"})
    out: dict[str, int | None] = {}
    problems: dict[str, str] = {}
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if line == 1 and [c.strip().lower() for c in row] == ["code", "population"]:
            continue
        where = f"第{line}行"
        if len(row) != 2:
            problems[where] = "每行应为 code,population 两列"
            continue
        code = row[0].strip()
        ok, value = parse_population(row[1])
        if not ok:
            problems[where] = f"{code}: {RANGE_MESSAGE}"
        elif code in out:
            problems[where] = f"{code} 重复"
        else:
            out[code] = value
    known = set(db.session.scalars(select(Region.code)))
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if len(row) == 2 and row[0].strip() in out and row[0].strip() not in known:
            problems[f"第{line}行"] = f"未知的区县代码 {row[0].strip()}"
    if problems:
        raise PopulationError(problems)
    return out
