"""Rules the shipped starter bank must meet (issue: 600 checked questions)."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from pathlib import Path

from quiz_app.bank.fileformat import BankFileError, BankRow, check_table, read_table

MIN_TOTAL = 600
MIN_PER_CATEGORY = 30
MIN_SHARE = {"single": 0.40, "multiple": 0.25, "judge": 0.20}


def _norm(stem: str) -> str:
    """A stem reduced to its letters and digits, to catch trivial near-duplicates."""
    return re.sub(r"[\W_]+", "", stem).lower()


def read_categories(folder: Path) -> tuple[list[str], set[str]]:
    """The header of `categories.csv` and its category codes."""
    with (folder / "categories.csv").open(encoding="utf-8", newline="") as fh:
        cat_rows = list(csv.reader(fh))
    return cat_rows[0], {r[0] for r in cat_rows[1:]}


def question_files(folder: Path) -> list[Path]:
    """The bank's question files (every CSV but `categories.csv`), in name order."""
    return sorted(p for p in folder.glob("*.csv") if p.name != "categories.csv")


def read_bank(
    folder: Path,
) -> tuple[dict[str, list[BankRow]], list[str]]:
    """Every question file read with the real importer's reader.

    Returns the checked rows per file name and the problems found while
    reading (a BOM, or the rows the importer would reject; such a file has
    no rows in the result).
    """
    header, categories = read_categories(folder)
    problems: list[str] = []
    if header != ["code", "name", "description"]:
        problems.append("categories.csv: bad header")
    files: dict[str, list[BankRow]] = {}
    for path in question_files(folder):
        data = path.read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            problems.append(f"{path.name}: has a UTF-8 BOM")
        try:
            files[path.name] = check_table(read_table(data, path.name), categories)
        except BankFileError as exc:
            problems.extend(f"{path.name}: {e}" for e in exc.errors)
    return files, problems


def bank_problems(folder: Path) -> list[str]:
    """Every rule broken by the bank in `folder`; empty when it is sound."""
    _, categories = read_categories(folder)
    files, problems = read_bank(folder)
    ids: dict[str, str] = {}
    stems: dict[str, str] = {}
    per_cat: dict[str, Counter] = defaultdict(Counter)
    difficulty: Counter = Counter()
    for name, rows in files.items():
        for row in rows:
            where = f"{name}:{row.line}"
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
