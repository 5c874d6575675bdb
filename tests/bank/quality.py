"""Editorial quality checks on the question bank (issue "A contest-grade bank").

Pure functions over a bank folder, read with `bank_rules.read_bank` (the real
importer's reader). Each check returns findings, not booleans, so that the
tests and `question_bank/tools/quality_report.py` can name the offending ids.

Thresholds and why:

- Multiple choice: at most 40 % of a file's (and the bank's) multiple rows may
  key all options but one (the issue found about two thirds did, which lets a
  test-wise citizen pick "all but the odd one"); every file needs rows with 2
  and with 3 keys, and the bank needs rows with 5 or more options.
- Judge: at least 40 % 正确 per file and overall. Among judge rows with a
  sweeping word (SWEEPING_WORDS), the share of 正确 must lie in 30-70 %
  across the bank, so "a sweeping statement is false" stops being a rule of
  thumb (per file there are too few such rows for a share to mean much).
- Self-cues: a stem that contains a keyed option's text (options of >= 2
  characters after dropping punctuation) and no distractor's text; a keyed
  set (multiple, >= 2 keys) whose options all share a prefix or suffix that no
  distractor has.
- Near-duplicates: cosine similarity of TF-IDF weighted character bigrams of
  stem + explanation, threshold 0.45. Measured on the bank as of the issue
  (600 rows, 179,700 pairs): character 3-gram Jaccard on stems alone is
  dominated by stem templates ("关于X，下列说法正确的是哪些？"): its five pairs
  >= 0.5 are all template pairs on unrelated points, and 169 pairs pass 0.3.
  Bigrams (Chinese words are mostly two characters) weighted by inverse
  document frequency discount those templates; the explanation adds the point
  a question tests. With this measure 3 pairs score >= 0.5, 10 >= 0.45, 15 >=
  0.40, 56 >= 0.30 and 200 >= 0.20. Reading them: all 10 pairs >= 0.45 share
  a topic; 4 test the same fact or state each other's key (ecology-001/003,
  energy-007/037, energy-020/031, ip-012/026) and 6 ask different points of
  one topic, reviewed and listed in the allowlist. The 5 pairs between 0.40
  and 0.45 (ip-002/031, health-019/032, food_safety-014/031, ecology-007/008,
  digital-009/024) all ask different points, and below 0.35 same-topic pairs
  dominate: a lower threshold adds work and no duplicate. So 0.45, with the
  reviewed pairs above it listed in
  `question_bank/review/similar-allowed.csv`. Paraphrases with few shared
  words are out of reach of any character n-gram measure: the four
  "earthquakes cannot be predicted" items (disaster-005, disaster-020,
  disaster-021, sci_method-035) score 0.05-0.29 pairwise, below about 60-2000
  other pairs, so they need the editors' reading, not this threshold.
  Identical stems (after dropping punctuation) are always reported.
- Cross-question leaks: the text of a keyed option of question A (>= 3
  characters after dropping punctuation) found in the stem of question B, or
  inside a longer keyed option of B (a true statement that names it). A key
  text is distinctive when it occurs in the stems or options of at most
  MAX_LEAK_SPREAD other questions: a term used all over the bank (二氧化碳,
  外观设计) tells nothing about A's key. Digits must not continue a number
  (20年 is not found in 2020年). Distractors of B are not leaks (they are
  not asserted true) and neither is a keyed option of B equal to A's key (the
  same answer twice gives nothing away). Pairs in one exclusion group and the
  reviewed pairs in `question_bank/review/leaks-allowed.csv` are exempt.
- Sources: every source must carry a version or date: a four-digit year, 版,
  修订, 修正, or a standard number with its year (GB 7718-2011).
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from quiz_app.bank.fileformat import BankRow
from tests.bank.bank_rules import read_bank

MAX_ALL_BUT_ONE_SHARE = 0.40
MIN_JUDGE_TRUE_SHARE = 0.40
SWEEPING_TRUE_SHARE = (0.30, 0.70)
SWEEPING_WORDS = (
    "只要",
    "一定",
    "永远",
    "所有",
    "全部",
    "绝对",
    "任何",
    "凡是",
    "总是",
    "从不",
    "必然",
    "完全",
    "都能",
    "一律",
    "唯一",
    "肯定",
    "无论",
)
SIMILARITY_NGRAM = 2
SIMILARITY_THRESHOLD = 0.45
MIN_CUE_CHARS = 2
MIN_LEAK_CHARS = 3
MAX_LEAK_SPREAD = 3
SIMILAR_ALLOWED = Path("review") / "similar-allowed.csv"
LEAKS_ALLOWED = Path("review") / "leaks-allowed.csv"

_SOURCE_VERSION = re.compile(
    r"(?<!\d)(1[89]|20)\d{2}(?!\d)|版|修订|修正|[A-Z]{2}(/[A-Z])?\s?\d+(\.\d+)*[-—–]\d{4}"
)


class BankUnreadable(Exception):
    """The bank has rows the importer would reject; fix those first."""


@dataclass(frozen=True)
class Question:
    """One bank row and the file it came from."""

    file: str
    row: BankRow

    @property
    def id(self) -> str:
        return self.row.ext_id

    @property
    def keyed(self) -> list[str]:
        if self.row.type == "judge":
            return []
        return [self.row.options["ABCDEF".index(c)] for c in self.row.answer]

    @property
    def distractors(self) -> list[str]:
        if self.row.type == "judge":
            return []
        return [
            o
            for i, o in enumerate(self.row.options)
            if "ABCDEF"[i] not in self.row.answer
        ]


def norm(text: str) -> str:
    """Text without punctuation, spaces or case, for substring comparisons."""
    return re.sub(r"[\W_]+", "", text).lower()


def load(folder: Path) -> list[Question]:
    """Every question of the bank in `folder`; raises BankUnreadable."""
    files, problems = read_bank(folder)
    if problems:
        raise BankUnreadable("\n".join(problems))
    return [Question(name, row) for name, rows in files.items() for row in rows]


def by_file(questions: list[Question]) -> dict[str, list[Question]]:
    out: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        out[q.file].append(q)
    return dict(out)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# -- multiple choice -------------------------------------------------------


@dataclass
class KeyStats:
    """Key sizes of the multiple-choice rows of one file (or the bank)."""

    count: int = 0
    all_but_one: int = 0
    #: how many rows have each (keyed, options) shape
    shapes: Counter = field(default_factory=Counter)
    all_keyed: list[str] = field(default_factory=list)
    one_keyed: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return _share(self.all_but_one, self.count)

    def keys(self, n: int) -> int:
        return sum(c for (k, _), c in self.shapes.items() if k == n)

    def with_options(self, n: int) -> int:
        return sum(c for (_, o), c in self.shapes.items() if o >= n)


def key_stats(questions: list[Question]) -> KeyStats:
    stats = KeyStats()
    for q in questions:
        if q.row.type != "multiple":
            continue
        keyed, options = len(q.row.answer), len(q.row.options)
        stats.count += 1
        stats.shapes[(keyed, options)] += 1
        if keyed == options - 1:
            stats.all_but_one += 1
        if keyed == options:
            stats.all_keyed.append(q.id)
        if keyed < 2:
            stats.one_keyed.append(q.id)
    return stats


def multiple_problems(questions: list[Question]) -> list[str]:
    """Key-count rules for multiple choice, per file and for the bank."""
    problems: list[str] = []
    scopes = {**by_file(questions), "bank": questions}
    for scope, qs in scopes.items():
        s = key_stats(qs)
        if s.share > MAX_ALL_BUT_ONE_SHARE:
            problems.append(
                f"{scope}: {s.all_but_one} of {s.count} multiple rows key all "
                f"options but one ({s.share:.0%} > {MAX_ALL_BUT_ONE_SHARE:.0%})"
            )
        for n in (2, 3):
            if s.count and not s.keys(n):
                problems.append(f"{scope}: no multiple row with {n} keys")
        if s.all_keyed:
            problems.append(f"{scope}: every option keyed: {', '.join(s.all_keyed)}")
        if s.one_keyed:
            problems.append(f"{scope}: fewer than 2 keys: {', '.join(s.one_keyed)}")
    if not key_stats(questions).with_options(5):
        problems.append("bank: no multiple row with 5 or more options")
    return problems


# -- true/false ------------------------------------------------------------


def sweeping_words(text: str) -> list[str]:
    return [w for w in SWEEPING_WORDS if w in text]


def judge_problems(questions: list[Question]) -> list[str]:
    """Share of 正确 per file and overall; sweeping-word balance over the bank."""
    problems: list[str] = []
    scopes = {**by_file(questions), "bank": questions}
    for scope, qs in scopes.items():
        judges = [q for q in qs if q.row.type == "judge"]
        true = sum(1 for q in judges if q.row.answer == "A")
        if judges and _share(true, len(judges)) < MIN_JUDGE_TRUE_SHARE:
            problems.append(
                f"{scope}: {true} of {len(judges)} judge rows are 正确 "
                f"(need {MIN_JUDGE_TRUE_SHARE:.0%})"
            )
    sweeping = [
        q for q in questions if q.row.type == "judge" and sweeping_words(q.row.stem)
    ]
    true = [q.id for q in sweeping if q.row.answer == "A"]
    false = [q.id for q in sweeping if q.row.answer == "B"]
    lo, hi = SWEEPING_TRUE_SHARE
    if sweeping and not lo <= _share(len(true), len(sweeping)) <= hi:
        problems.append(
            f"bank: {len(true)} of {len(sweeping)} judge rows with a sweeping word "
            f"are 正确 (need {lo:.0%}-{hi:.0%}); 正确: {', '.join(true) or '-'}; "
            f"错误: {', '.join(false)}"
        )
    return problems


# -- self-cues -------------------------------------------------------------


def stem_cues(questions: list[Question]) -> list[tuple[str, str]]:
    """(id, keyed option) where the stem contains a keyed option's text but
    no distractor's text."""
    out = []
    for q in questions:
        if q.row.type == "judge":
            continue
        stem = norm(q.row.stem)

        def named(text: str, stem: str = stem) -> bool:
            t = norm(text)
            return len(t) >= MIN_CUE_CHARS and t in stem

        if any(named(d) for d in q.distractors):
            continue
        out.extend((q.id, k) for k in q.keyed if named(k))
    return out


def word_cues(questions: list[Question], common: int = 15) -> list[tuple[str, str]]:
    """(id, shared words) where exactly the keyed options share a two-character
    word with the stem (bigrams in more than `common` stems do not count).

    A softer cue than `stem_cues`, with more false alarms (a stem about 商标
    may rightly have 商标 in its key): the report lists it for reviewers; no
    test enforces it.
    """

    def bigrams(text: str) -> set[str]:
        t = norm(text)
        return {t[i : i + 2] for i in range(len(t) - 1)}

    df = Counter(g for q in questions for g in bigrams(q.row.stem))
    out = []
    for q in questions:
        if q.row.type == "judge":
            continue
        words = {g for g in bigrams(q.row.stem) if df[g] <= common}
        sharing = [o for o in q.row.options if bigrams(o) & words]
        if sharing and sorted(sharing) == sorted(q.keyed):
            shared = sorted(set().union(*(bigrams(o) & words for o in sharing)))
            out.append((q.id, "、".join(shared)))
    return out


def _common_prefix(texts: list[str]) -> str:
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def pattern_cues(questions: list[Question]) -> list[tuple[str, str]]:
    """(id, pattern) where every keyed option starts or ends alike and no
    distractor does (multiple rows with at least one distractor)."""
    out = []
    for q in questions:
        if q.row.type != "multiple" or not q.distractors:
            continue
        keyed = [norm(k) for k in q.keyed]
        others = [norm(d) for d in q.distractors]
        prefix = _common_prefix(keyed)
        if prefix and not any(d.startswith(prefix) for d in others):
            out.append((q.id, f"{prefix}…"))
        suffix = _common_prefix([k[::-1] for k in keyed])[::-1]
        if suffix and not any(d.endswith(suffix) for d in others):
            out.append((q.id, f"…{suffix}"))
    return out


# -- near-duplicates -------------------------------------------------------


def _ngrams(text: str, n: int = SIMILARITY_NGRAM) -> Counter:
    t = norm(text)
    return Counter(t[i : i + n] for i in range(max(1, len(t) - n + 1)))


def similarities(questions: list[Question]) -> list[tuple[float, str, str]]:
    """(cosine, id_a, id_b) for every pair, highest first: TF-IDF weighted
    character n-grams of stem + explanation."""
    counts = {q.id: _ngrams(q.row.stem + q.row.explanation) for q in questions}
    df = Counter(g for c in counts.values() for g in c)
    total = len(counts)
    vectors: dict[str, dict[str, float]] = {}
    for qid, c in counts.items():
        v = {g: tf * math.log(total / df[g]) for g, tf in c.items()}
        length = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vectors[qid] = {g: x / length for g, x in v.items()}
    out = []
    for a, b in combinations(vectors, 2):
        va, vb = vectors[a], vectors[b]
        if len(va) > len(vb):
            va, vb = vb, va
        out.append((sum(x * vb.get(g, 0.0) for g, x in va.items()), a, b))
    out.sort(key=lambda t: (-t[0], t[1], t[2]))
    return out


def duplicate_stems(questions: list[Question]) -> list[tuple[str, str]]:
    """Pairs whose stems are identical once punctuation is dropped."""
    seen: dict[str, str] = {}
    out = []
    for q in questions:
        key = norm(q.row.stem)
        if key in seen:
            out.append((seen[key], q.id))
        else:
            seen[key] = q.id
    return out


def near_duplicates(
    questions: list[Question],
    allowed: set[frozenset[str]] = frozenset(),
    threshold: float = SIMILARITY_THRESHOLD,
    scores: list[tuple[float, str, str]] | None = None,
) -> list[tuple[float, str, str]]:
    """Pairs at or above `threshold` that are not in `allowed`; pass `scores`
    (from `similarities`) to reuse them."""
    return [
        (s, a, b)
        for s, a, b in (similarities(questions) if scores is None else scores)
        if s >= threshold and frozenset((a, b)) not in allowed
    ]


# -- cross-question leaks --------------------------------------------------


@dataclass(frozen=True)
class Leak:
    key_id: str  #: the question whose key is given away
    key: str  #: the key text
    other_id: str  #: the question that names it
    where: str  #: "stem" or "option X"

    def __str__(self) -> str:
        return (
            f"{self.other_id} ({self.where}) names {self.key!r}, key of {self.key_id}"
        )


def _finds(needle: str, hay: str) -> bool:
    """`needle` in `hay`, without splitting a number (20年 is not in 2020年)."""
    start = hay.find(needle)
    while start != -1:
        end = start + len(needle)
        before = hay[start - 1] if start else ""
        after = hay[end] if end < len(hay) else ""
        if not (
            (needle[0].isdigit() and before.isdigit())
            or (needle[-1].isdigit() and after.isdigit())
        ):
            return True
        start = hay.find(needle, start + 1)
    return False


def leaks(
    questions: list[Question], allowed: set[tuple[str, str]] = frozenset()
) -> list[Leak]:
    """Every key text of one question stated by another (see module doc)."""
    texts = {
        q.id: [norm(q.row.stem)] + [norm(o) for o in q.keyed + q.distractors]
        for q in questions
    }
    out = []
    for a in questions:
        stem = norm(a.row.stem)
        for raw in a.keyed:
            key = norm(raw)
            if len(key) < MIN_LEAK_CHARS or key in stem:
                continue  # too short to be distinctive, or a self-cue instead
            spread = [
                qid
                for qid, ts in texts.items()
                if qid != a.id and any(_finds(key, t) for t in ts)
            ]
            if not spread or len(spread) > MAX_LEAK_SPREAD:
                continue
            for b in questions:
                if b.id not in spread or (a.row.group and a.row.group == b.row.group):
                    continue
                if (a.id, b.id) in allowed:
                    continue
                if _finds(key, norm(b.row.stem)):
                    out.append(Leak(a.id, raw, b.id, "stem"))
                    continue
                for letter, opt in zip(b.row.answer, b.keyed, strict=False):
                    o = norm(opt)
                    if o != key and _finds(key, o):
                        out.append(Leak(a.id, raw, b.id, f"option {letter}"))
                        break
    return out


# -- sources ---------------------------------------------------------------


def undated_sources(questions: list[Question]) -> list[tuple[str, str]]:
    """(id, source) for sources without a version or date."""
    return [
        (q.id, q.row.source)
        for q in questions
        if not _SOURCE_VERSION.search(q.row.source)
    ]


# -- allowlists ------------------------------------------------------------


def read_allowlist(path: Path) -> list[dict[str, str]]:
    """Rows of a reviewed allowlist (CSV: two ids and a reason); [] if absent."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def similar_allowed(folder: Path) -> set[frozenset[str]]:
    rows = read_allowlist(folder / SIMILAR_ALLOWED)
    return {frozenset((r["id_a"], r["id_b"])) for r in rows}


def leaks_allowed(folder: Path) -> set[tuple[str, str]]:
    rows = read_allowlist(folder / LEAKS_ALLOWED)
    return {(r["key_id"], r["other_id"]) for r in rows}


def allowlist_problems(folder: Path, questions: list[Question]) -> list[str]:
    """Allowlist rows without a reason or naming ids that are not in the bank."""
    ids = {q.id for q in questions}
    problems = []
    for path, cols in (
        (SIMILAR_ALLOWED, ("id_a", "id_b")),
        (LEAKS_ALLOWED, ("key_id", "other_id")),
    ):
        for line, r in enumerate(read_allowlist(folder / path), start=2):
            missing = [r.get(c) for c in cols if r.get(c) not in ids]
            if missing:
                problems.append(
                    f"{path}:{line}: unknown id {', '.join(map(str, missing))}"
                )
            if not (r.get("reason") or "").strip():
                problems.append(f"{path}:{line}: no reason given")
    return problems
