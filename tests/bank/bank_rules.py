"""Rules the shipped starter bank must meet (issue: 600 checked questions)."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from pathlib import Path

from quiz_app.bank.fileformat import BankFileError, check_table, read_table

MIN_TOTAL = 600
MIN_PER_CATEGORY = 30
MIN_SHARE = {"single": 0.40, "multiple": 0.25, "judge": 0.20}


def _norm(stem: str) -> str:
    """A stem reduced to its letters and digits, to catch trivial near-duplicates."""
    return re.sub(r"[\W_]+", "", stem).lower()


def bank_problems(folder: Path) -> list[str]:
    """Every rule broken by the bank in `folder`; empty when it is sound."""
    problems: list[str] = []
    with (folder / "categories.csv").open(encoding="utf-8", newline="") as fh:
        cat_rows = list(csv.reader(fh))
    if cat_rows[0] != ["code", "name", "description"]:
        problems.append("categories.csv: bad header")
    categories = {r[0] for r in cat_rows[1:]}
    ids: dict[str, str] = {}
    stems: dict[str, str] = {}
    per_cat: dict[str, Counter] = defaultdict(Counter)
    difficulty: Counter = Counter()
    files = sorted(p for p in folder.glob("*.csv") if p.name != "categories.csv")
    for path in files:
        data = path.read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            problems.append(f"{path.name}: has a UTF-8 BOM")
        try:
            rows = check_table(read_table(data, path.name), categories)
        except BankFileError as exc:
            problems.extend(f"{path.name}: {e}" for e in exc.errors)
            continue
        for row in rows:
            where = f"{path.name}:{row.line}"
            if row.ext_id in ids:
                problems.append(f"{where}: id {row.ext_id} also at {ids[row.ext_id]}")
            ids[row.ext_id] = where
            key = _norm(row.stem)
            if key in stems:
                problems.append(f"{where}: same stem as {stems[key]}")
            stems[key] = where
            if row.type == "multiple" and len(row.answer) == len(row.options):
                problems.append(
                    f"{where}: every option of a multiple question is right"
                )
            for opt in row.options:
                if opt in ("以上都对", "以上都不对", "以上都是", "都对", "都不对"):
                    problems.append(f"{where}: catch-all option {opt}")
            if not (10 <= len(row.explanation) <= 300):
                problems.append(f"{where}: explanation of {len(row.explanation)} chars")
            per_cat[row.category][row.type] += 1
            difficulty[row.difficulty] += 1
    total = sum(sum(c.values()) for c in per_cat.values())
    if total < MIN_TOTAL:
        problems.append(f"only {total} questions, need {MIN_TOTAL}")
    for cat in sorted(categories):
        counts = per_cat.get(cat, Counter())
        n = sum(counts.values())
        if n < MIN_PER_CATEGORY:
            problems.append(f"category {cat}: {n} questions, need {MIN_PER_CATEGORY}")
            continue
        for qtype, share in MIN_SHARE.items():
            if counts[qtype] < share * n:
                problems.append(
                    f"category {cat}: {counts[qtype]} {qtype} of {n}, need {share:.0%}"
                )
    if total:
        for level, (lo, hi) in {
            1: (0.30, 0.50),
            2: (0.30, 0.50),
            3: (0.10, 0.30),
        }.items():
            if not lo <= difficulty[level] / total <= hi:
                problems.append(f"difficulty {level}: {difficulty[level]} of {total}")
    return problems


def bank_summary(folder: Path) -> dict[str, Counter]:
    """Per-category type counts (for the README and the note)."""
    out: dict[str, Counter] = defaultdict(Counter)
    for path in sorted(folder.glob("*.csv")):
        if path.name == "categories.csv":
            continue
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                out[row["category"]][row["type"]] += 1
    return out
