"""Quick self-check of question CSV files (the full test lives in tests/)."""

import csv
import sys
from collections import Counter

# A copy of quiz_app.bank.fileformat.HEADER on purpose: this tool runs with a
# bare python3 (no Flask), and tests/bank checks the same files with the real one.
HEADER = [
    "id",
    "category",
    "type",
    "difficulty",
    "stem",
    "option_a",
    "option_b",
    "option_c",
    "option_d",
    "option_e",
    "option_f",
    "answer",
    "explanation",
    "source",
]
# The optional 15th column: an exclusion group (an ASCII label or empty).
GROUP = "group"
LETTERS = "ABCDEF"


def check(path: str) -> int:
    bad = 0
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    if header not in (HEADER, [*HEADER, GROUP]):
        print(f"{path}: bad header {header}")
        return 1
    types, diffs, stems, ids = Counter(), Counter(), Counter(), Counter()
    for line, raw in enumerate(rows[1:], start=2):

        def err(msg: str, line: int = line) -> None:
            nonlocal bad
            bad += 1
            print(f"{path}:{line}: {msg}")

        if len(raw) != len(header):
            err(f"{len(raw)} cells, expected {len(header)}")
            continue
        r = dict(zip(header, raw, strict=True))
        group = r.get(GROUP, "")
        if group and not (
            group.isascii() and group.replace("-", "").replace("_", "").isalnum()
        ):
            err("group must be ASCII letters, digits, - and _")
        ids[r["id"]] += 1
        stems[r["stem"].strip()] += 1
        types[r["type"]] += 1
        diffs[r["difficulty"]] += 1
        opts = [r[f"option_{c.lower()}"] for c in LETTERS]
        present = [bool(o.strip()) for o in opts]
        n = sum(present)
        if r["type"] == "judge":
            if n:
                err("judge must have no options")
            if r["answer"] not in ("正确", "错误"):
                err("judge answer must be 正确 or 错误")
        elif r["type"] in ("single", "multiple"):
            if n < 2 or present[:n] != [True] * n:
                err("options must be A, B, ... without gaps")
            ans = r["answer"]
            valid = LETTERS[:n]
            if any(c not in valid for c in ans) or list(ans) != sorted(set(ans)):
                err(f"answer {ans!r} not letters in order among {valid}")
            if r["type"] == "single" and len(ans) != 1:
                err("single needs exactly one letter")
            if r["type"] == "multiple" and len(ans) < 2:
                err("multiple needs at least two letters")
        else:
            err(f"bad type {r['type']!r}")
        if r["difficulty"] not in ("1", "2", "3"):
            err("difficulty must be 1, 2 or 3")
        for col in ("id", "category", "stem", "explanation", "source"):
            if not r[col].strip():
                err(f"empty {col}")
        if "<" in r["stem"] or ">" in r["stem"]:
            err("no HTML in stems")
    for k, v in ids.items():
        if v > 1:
            bad += 1
            print(f"{path}: duplicate id {k}")
    for k, v in stems.items():
        if v > 1:
            bad += 1
            print(f"{path}: duplicate stem {k}")
    total = sum(types.values())
    print(
        f"{path}: {total} rows, types {dict(types)}, difficulty {dict(diffs)}, "
        f"{bad} problems"
    )
    return bad


if __name__ == "__main__":
    sys.exit(1 if sum(check(p) for p in sys.argv[1:]) else 0)
