"""The starter bank meets the editorial rules of the issue "A contest-grade bank".

The first group checks the shipped bank, one test per rule, and lists what an
editor has to fix. The second group checks the heuristics themselves on
small hand-made questions, so that a check cannot silently stop finding
anything.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import shutil
from pathlib import Path

import pytest

from quiz_app.bank.fileformat import BankRow
from tests.bank import quality

BANK = Path(__file__).resolve().parents[2] / "question_bank"


@pytest.fixture(scope="module")
def bank() -> list[quality.Question]:
    return quality.load(BANK)


def _listing(title: str, items) -> str:
    items = list(items)
    return f"{title} ({len(items)}):\n" + "\n".join(f"  {i}" for i in items)


# -- the shipped bank ------------------------------------------------------


def test_multiple_choice_key_counts_vary(bank):
    problems = quality.multiple_problems(bank)
    assert not problems, _listing("multiple-choice key counts", problems)


def test_judge_answers_are_balanced(bank):
    problems = quality.judge_problems(bank)
    assert not problems, _listing("judge balance", problems)


def test_no_stem_names_its_own_key(bank):
    cues = quality.stem_cues(bank)
    assert not cues, _listing(
        "stems that contain a keyed option and no distractor",
        (f"{qid}: {opt}" for qid, opt in cues),
    )


def test_no_keyed_set_shares_a_visible_pattern(bank):
    cues = quality.pattern_cues(bank)
    assert not cues, _listing(
        "keyed options that all start/end alike, unlike every distractor",
        (f"{qid}: {pattern}" for qid, pattern in cues),
    )


def test_no_duplicate_stems(bank):
    pairs = quality.duplicate_stems(bank)
    assert not pairs, _listing("identical stems", (f"{a} = {b}" for a, b in pairs))


def test_no_near_duplicates(bank):
    pairs = quality.near_duplicates(bank, quality.similar_allowed(BANK))
    assert not pairs, _listing(
        f"near-duplicates (similarity >= {quality.SIMILARITY_THRESHOLD}; keep one "
        f"and replace the other, or list a reviewed pair in {quality.SIMILAR_ALLOWED})",
        (f"{s:.2f} {a} ~ {b}" for s, a, b in pairs),
    )


def test_no_cross_question_leaks(bank):
    found = quality.leaks(bank, quality.leaks_allowed(BANK))
    assert not found, _listing(
        "cross-question leaks (reword the stem, or put both in one group)", found
    )


def test_every_source_names_a_version_or_date(bank):
    undated = quality.undated_sources(bank)
    assert not undated, _listing(
        "sources without a year, 版, 修订/修正 or standard number",
        (f"{qid}: {source}" for qid, source in undated),
    )


def test_allowlists_name_real_questions_and_give_reasons(bank):
    problems = quality.allowlist_problems(BANK, bank)
    assert not problems, _listing("allowlist rows", problems)


# -- the heuristics --------------------------------------------------------


def _q(qid, stem, options=(), answer="A", qtype=None, group=None, explanation="解析"):
    kind = qtype or ("judge" if not options else "single")
    if kind == "judge":
        options, answer = ["正确", "错误"], answer
    return quality.Question(
        f"{qid.split('-')[0]}.csv",
        BankRow(
            line=2,
            ext_id=qid,
            category=qid.split("-")[0],
            type=kind,
            difficulty=1,
            stem=stem,
            options=list(options),
            answer=answer,
            explanation=explanation,
            source="《某法》（2021年修正）",
            group=group,
        ),
    )


def _multiple(qid, keys, options):
    return _q(qid, f"{qid}：下列说法正确的是哪些？", options, keys, "multiple")


def test_key_counts_flag_all_but_one_and_missing_sizes():
    many = [_multiple(f"x-{i}", "ABC", ["甲", "乙", "丙", "丁"]) for i in range(3)]
    problems = quality.multiple_problems(many)
    assert (
        "x.csv: 3 of 3 multiple rows key all options but one (100% > 40%)" in problems
    )
    assert "x.csv: no multiple row with 2 keys" in problems
    assert "bank: no multiple row with 5 or more options" in problems
    varied = [
        _multiple("x-1", "AB", ["甲", "乙", "丙", "丁", "戊"]),
        _multiple("x-2", "ABC", ["甲", "乙", "丙", "丁", "戊"]),
        _multiple("x-3", "ABC", ["甲", "乙", "丙", "丁"]),
    ]
    assert quality.multiple_problems(varied) == []


def test_judge_balance_counts_true_rows_and_sweeping_words():
    rows = [
        _q("x-1", "只要多喝水就一定不会生病。", answer="B"),
        _q("x-2", "所有金属都能导电。", answer="B"),
        _q("x-3", "水在标准大气压下100℃沸腾。", answer="B"),
    ]
    problems = quality.judge_problems(rows)
    assert "x.csv: 0 of 3 judge rows are 正确 (need 40%)" in problems
    assert any(
        p.startswith("bank: 0 of 2 judge rows with a sweeping word") for p in problems
    )
    rows[1] = _q("x-2", "任何单位和个人都有保护环境的义务。", answer="A")
    rows[2] = _q("x-3", "水在标准大气压下100℃沸腾。", answer="A")
    assert quality.judge_problems(rows) == []


def test_stem_cue_needs_the_key_and_no_distractor_in_the_stem():
    cue = _q(
        "x-1", "“先通风、再检测、后作业”的原则中，第一步是？", ["先通风", "戴手套"]
    )
    both = _q("x-2", "通风和检测哪个在先？", ["通风", "检测"])
    short = _q("x-3", "水的化学式是H2O，其中H表示什么？", ["H", "O"])
    assert quality.stem_cues([cue, both, short]) == [("x-1", "先通风")]


def test_pattern_cue_finds_a_shared_suffix_no_distractor_has():
    cued = _multiple(
        "x-1", "AC", ["天宫空间站", "嫦娥探测器", "和平号空间站", "蛟龙潜水器"]
    )
    fair = _multiple("x-2", "AB", ["空间站", "探测器", "潜水器"])
    assert quality.pattern_cues([cued, fair]) == [("x-1", "…空间站")]


def test_the_issue_examples_are_leaks_and_a_group_exempts_them():
    ecology_001 = _q(
        "ecology-001",
        "我国提出，二氧化碳排放力争在哪一年前达到峰值（即“碳达峰”）？",
        ["2025年", "2030年", "2035年", "2060年"],
        "B",
    )
    ecology_003 = _q(
        "ecology-003",
        "我国“二氧化碳排放力争于2030年前达到峰值，努力争取2060年前实现碳中和”"
        "的目标，是2020年9月在什么场合首次向世界宣布的？",
        ["二十国集团领导人峰会", "博鳌亚洲论坛年会", "第七十五届联合国大会一般性辩论"],
        "C",
    )
    frontier_010 = _q(
        "frontier-010",
        "2016年8月，我国成功发射世界首颗量子科学实验卫星，它叫什么名字？",
        ["悟空号", "天宫二号", "嫦娥四号", "墨子号"],
        "D",
    )
    frontier_025 = _q(
        "frontier-025",
        "“墨子号”量子科学实验卫星在轨完成的科学实验包括哪些？",
        ["千公里级星地双向量子纠缠分发", "星地高速量子密钥分发", "在月球背面软着陆"],
        "AB",
        "multiple",
    )
    rows = [ecology_001, ecology_003, frontier_010, frontier_025]
    assert {
        (leak.key_id, leak.other_id, leak.where) for leak in quality.leaks(rows)
    } == {
        ("ecology-001", "ecology-003", "stem"),
        ("frontier-010", "frontier-025", "stem"),
    }
    grouped = [
        _q(
            "ecology-001",
            ecology_001.row.stem,
            ecology_001.row.options,
            "B",
            group="peak",
        ),
        _q(
            "ecology-003",
            ecology_003.row.stem,
            ecology_003.row.options,
            "C",
            group="peak",
        ),
    ]
    assert quality.leaks(grouped + rows[2:]) == [
        quality.Leak("frontier-010", "墨子号", "frontier-025", "stem")
    ]
    assert quality.leaks(rows, {("frontier-010", "frontier-025")}) == [
        quality.Leak("ecology-001", "2030年", "ecology-003", "stem")
    ]


def test_a_leak_needs_a_whole_number_and_a_rare_key():
    key = _q("x-1", "发明专利权的期限是多少年？", ["10年", "20年"], "B")
    year = _q("x-2", "2020年发射的探测器是？", ["天问一号", "嫦娥一号"])
    assert quality.leaks([key, year]) == []  # 20年 is not in 2020年
    common = _q("x-3", "下列哪种气体是主要温室气体？", ["二氧化碳", "氧气"])
    others = [_q(f"x-{i}", f"二氧化碳的第{i}种说法是对的。") for i in range(4, 9)]
    assert quality.leaks([common, *others]) == []  # named by five others: a common term
    assert len(quality.leaks([common, *others[:2]])) == 2


def test_a_distractor_naming_a_key_is_no_leak_but_a_keyed_statement_is():
    key = _q("x-1", "我国首颗量子卫星叫什么？", ["墨子号", "悟空号"])
    distractor = _q("x-2", "暗物质卫星叫什么？", ["悟空号", "墨子号"], "A")
    statement = _multiple(
        "x-3", "AB", ["墨子号实现了量子密钥分发", "卫星可以测绘", "太阳绕地球转"]
    )
    assert [
        (leak.other_id, leak.where)
        for leak in quality.leaks([key, distractor, statement])
    ] == [("x-3", "option A")]


def test_near_duplicates_are_found_and_unrelated_pairs_are_not():
    rows = [
        _q(
            "x-1",
            "目前的科学技术已经能够准确预报地震发生的具体时间和地点。",
            answer="B",
            explanation="准确预报地震发生的时间和地点仍是世界性科学难题。",
        ),
        _q(
            "x-2",
            "现在的科学技术可以准确预报地震发生的时间和地点。",
            answer="B",
            explanation="准确预报地震的时间和地点仍是世界性难题。",
        ),
        _q(
            "x-3",
            "发明专利权的期限为二十年，自申请日起计算。",
            explanation="专利法规定发明专利权的期限为二十年。",
        ),
        _q(
            "x-4",
            "塞罕坝机械林场位于河北省承德市。",
            explanation="塞罕坝机械林场在河北省承德市围场县。",
        ),
    ]
    found = quality.near_duplicates(rows)
    assert [(a, b) for _, a, b in found] == [("x-1", "x-2")]
    assert quality.near_duplicates(rows, {frozenset(("x-2", "x-1"))}) == []
    assert quality.duplicate_stems([rows[0], _q("x-9", rows[0].row.stem + "！")]) == [
        ("x-1", "x-9")
    ]


@pytest.mark.parametrize(
    "source, dated",
    [
        ("《中华人民共和国安全生产法》（2021年修正）", True),
        ("GB 7718-2011《食品安全国家标准 预包装食品标签通则》", True),
        ("GB/T 35351—2017《增材制造 术语》", True),
        ("人教版普通高中教科书 物理 必修第一册", True),
        ("《中华人民共和国宪法》修正案", True),
        ("中国科学院公开信息", False),
        ("《中华人民共和国安全生产法》", False),
        ("GB 2760", False),
        ("中国地震局发布的防震减灾科普知识（12369热线）", False),
    ],
)
def test_a_source_needs_a_version_or_date(source, dated):
    row = _q("x-1", "题干")
    row = quality.Question(row.file, BankRow(**{**row.row.__dict__, "source": source}))
    assert (quality.undated_sources([row]) == []) is dated


def test_word_cue_finds_a_stem_word_only_the_key_shares():
    cued = _q(
        "x-1", "商品上的商标旁边标注R，表示什么？", ["该商标已经注册", "产品合格"]
    )
    fair = _q("x-2", "商品上标注R表示什么？", ["商标已注册", "商品合格"])
    assert quality.word_cues([cued, fair]) == [("x-1", "商标")]


def _report_module():
    path = BANK / "tools" / "quality_report.py"
    spec = importlib.util.spec_from_file_location("quality_report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _plant(bank, filename, qid, extra):
    """Append `extra` to one question's stem in a copied bank."""
    path = bank / filename
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    stem = rows[0].index("stem")
    for row in rows[1:]:
        if row[0] == qid:
            row[stem] = row[stem].rstrip("？?") + extra
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_report_counts_a_bank_and_a_group_ends_a_leak(tmp_path):
    """The issue's two examples, planted again in a copy of the edited bank:
    the report names both leaks, and an exclusion group ends one of them."""
    bank = tmp_path / "bank"
    shutil.copytree(BANK, bank, ignore=shutil.ignore_patterns("tools", "*.md", "*.txt"))
    report = _report_module().report
    assert "key of ecology-001" not in report(bank)
    _plant(bank, "ecology.csv", "ecology-003", "（我国力争2030年前碳达峰）？")
    _plant(bank, "frontier.csv", "frontier-025", "（如墨子号）？")
    before = report(bank)
    assert "ecology-003 (stem) names '2030年', key of ecology-001" in before
    assert re.search(r"^\s+BANK\s+180\s", before, re.M)
    path = bank / "ecology.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if "group" not in rows[0]:
        rows[0].append("group")
        for row in rows[1:]:
            row.append("")
    group = rows[0].index("group")
    for row in rows[1:]:
        if row[0] in ("ecology-001", "ecology-003"):
            row[group] = "peak"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    after = report(bank)
    assert "key of ecology-001" not in after
    assert "frontier-025 (stem) names '墨子号', key of frontier-010" in after
