"""Counts per editorial rule, per file and for the bank (tests/bank/quality.py).

Run from the repository with its virtualenv (it uses the importer's reader):

    .venv/bin/python question_bank/tools/quality_report.py [--bank FOLDER]

Prints one table row per file, a bank total, and then every finding by id.
Exits 0 whatever it finds (the tests in tests/bank/test_bank_quality.py are
the gate); exits 2 when the bank cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bank import quality  # noqa: E402

COLUMNS = (
    ("mc", "multiple rows"),
    ("abo", "multiple rows keying all options but one (share)"),
    ("k2/k3/k4+", "multiple rows with 2 / 3 / 4+ keys"),
    ("5opt", "multiple rows with 5+ options"),
    ("judge", "judge rows"),
    ("true", "judge rows keyed 正确 (share)"),
    ("sweep", "judge rows with a sweeping word: 正确/all"),
    ("stemcue", "stems containing a keyed option and no distractor"),
    ("pattern", "keyed sets sharing a prefix/suffix no distractor has"),
    (
        "neardup",
        f"pairs with similarity >= {quality.SIMILARITY_THRESHOLD} (not allowed)",
    ),
    ("leak", "leaks whose leaking question (stem/option) is in the file"),
    ("undated", "sources without a version or date"),
)


def _row(
    qs: list[quality.Question],
    near: list[tuple[float, str, str]],
    leaks: list[quality.Leak],
    file_ids: set[str] | None,
) -> list[str]:
    ks = quality.key_stats(qs)
    judges = [q for q in qs if q.row.type == "judge"]
    true = sum(1 for q in judges if q.row.answer == "A")
    sweep = [q for q in judges if quality.sweeping_words(q.row.stem)]
    sweep_true = sum(1 for q in sweep if q.row.answer == "A")
    four_plus = sum(c for (k, _), c in ks.shapes.items() if k >= 4)

    def mine(*ids: str) -> bool:
        return file_ids is None or any(i in file_ids for i in ids)

    return [
        str(ks.count),
        f"{ks.all_but_one} ({ks.share:.0%})",
        f"{ks.keys(2)}/{ks.keys(3)}/{four_plus}",
        str(ks.with_options(5)),
        str(len(judges)),
        f"{true} ({true / len(judges):.0%})" if judges else "0",
        f"{sweep_true}/{len(sweep)}",
        str(len(quality.stem_cues(qs))),
        str(len(quality.pattern_cues(qs))),
        str(sum(1 for _, a, b in near if mine(a, b))),
        str(sum(1 for leak in leaks if mine(leak.other_id))),
        str(len(quality.undated_sources(qs))),
    ]


def report(folder: Path, reviewed: Path | None = None) -> str:
    """The report; allowlists are read from `reviewed` (default: `folder`)."""
    questions = quality.load(folder)
    reviewed = reviewed or folder
    pairs = quality.similarities(questions)
    near = quality.near_duplicates(
        questions, quality.similar_allowed(reviewed), scores=pairs
    )
    leaks = quality.leaks(questions, quality.leaks_allowed(reviewed))
    files = quality.by_file(questions)
    table = [["file", *(c for c, _ in COLUMNS)]]
    for name, qs in files.items():
        table.append(
            [name.removesuffix(".csv"), *_row(qs, near, leaks, {q.id for q in qs})]
        )
    table.append(["BANK", *_row(questions, near, leaks, None)])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    out = [f"Question bank quality report: {folder}", f"{len(questions)} questions", ""]
    out += [
        "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in table
    ]
    out += ["", "Columns:"] + [f"  {c:10} {d}" for c, d in COLUMNS]

    def section(title: str, lines: list[str]) -> None:
        out.extend(["", f"{title} ({len(lines)}):", *(f"  {x}" for x in lines)])

    section(
        "Multiple-choice and judge rule breaches",
        [
            *quality.multiple_problems(questions),
            *quality.judge_problems(questions),
        ],
    )
    shapes = quality.key_stats(questions).shapes
    section(
        "Multiple-choice shapes (keys of options: rows)",
        [f"{k} of {o}: {n}" for (k, o), n in sorted(shapes.items())],
    )
    section("Stem self-cues", [f"{i}: {o}" for i, o in quality.stem_cues(questions)])
    section(
        "Word hints, for review only (just the keyed options share a stem word)",
        [f"{i}: {w}" for i, w in quality.word_cues(questions)],
    )
    section(
        "Keyed-set patterns", [f"{i}: {p}" for i, p in quality.pattern_cues(questions)]
    )
    section(
        "Identical stems", [f"{a} = {b}" for a, b in quality.duplicate_stems(questions)]
    )
    section("Near-duplicates", [f"{s:.2f} {a} ~ {b}" for s, a, b in near])
    section("Cross-question leaks", [str(leak) for leak in leaks])
    undated = Counter(source for _, source in quality.undated_sources(questions))
    section(
        "Undated sources (source: rows)",
        [f"{s}: {n}" for s, n in undated.most_common()],
    )
    section("Allowlist problems", quality.allowlist_problems(reviewed, questions))
    scores = [s for s, _, _ in pairs]
    section(
        "Similarity distribution (pairs at or above)",
        [
            f">= {t:.2f}: {sum(1 for s in scores if s >= t)}"
            for t in (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)
        ],
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=Path, default=ROOT / "question_bank")
    parser.add_argument(
        "--allowlists",
        type=Path,
        metavar="FOLDER",
        help="bank folder whose review/*-allowed.csv to use (default: --bank)",
    )
    args = parser.parse_args(argv)
    try:
        print(report(args.bank, args.allowlists))
    except quality.BankUnreadable as exc:
        print(f"the bank cannot be read:\n{exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
