"""The shipped starter bank in question_bank/ is complete and well-formed."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from tests.bank.bank_rules import bank_problems

BANK = Path(__file__).resolve().parents[2] / "question_bank"


def test_starter_bank_meets_every_rule():
    assert bank_problems(BANK) == []


def _copy_bank(tmp_path: Path) -> Path:
    dest = tmp_path / "bank"
    shutil.copytree(
        BANK, dest, ignore=shutil.ignore_patterns("tools", "review", "*.md")
    )
    return dest


def _edit_row(path: Path, index: int, **changes: str) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
        fields = list(rows[0].keys())
    rows[index].update(changes)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize(
    "changes, expect",
    [
        ({"answer": "Z"}, "答案"),
        ({"type": "judge"}, "判断题"),
        ({"explanation": ""}, "explanation"),
        ({"source": ""}, "source"),
        ({"category": "nosuch"}, "分类"),
        ({"option_b": ""}, "选项"),
        ({"difficulty": "7"}, "难度"),
    ],
)
def test_a_broken_row_is_caught(tmp_path, changes, expect):
    bank = _copy_bank(tmp_path)
    target = sorted(p for p in bank.glob("*.csv") if p.name != "categories.csv")[0]
    # Row 0 of each file is a single-choice question in our bank; find one.
    with target.open(encoding="utf-8", newline="") as fh:
        first_single = next(
            i for i, r in enumerate(csv.DictReader(fh)) if r["type"] == "single"
        )
    _edit_row(target, first_single, **changes)
    problems = bank_problems(bank)
    assert any(expect in p and target.name in p for p in problems), problems


def test_duplicate_ids_and_stems_across_files_are_caught(tmp_path):
    bank = _copy_bank(tmp_path)
    files = sorted(p for p in bank.glob("*.csv") if p.name != "categories.csv")
    with files[0].open(encoding="utf-8", newline="") as fh:
        first = next(csv.DictReader(fh))
    _edit_row(files[1], 0, id=first["id"], stem=first["stem"] + "。")
    problems = bank_problems(bank)
    assert any("also at" in p for p in problems)
    assert any("same stem" in p for p in problems)


def test_type_mix_and_size_are_enforced(tmp_path):
    bank = _copy_bank(tmp_path)
    files = sorted(p for p in bank.glob("*.csv") if p.name != "categories.csv")
    files[0].write_text(
        files[0].read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8"
    )
    problems = bank_problems(bank)
    assert any("need 600" in p for p in problems)
    assert any("need 30" in p for p in problems)
