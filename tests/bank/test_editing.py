"""Bank edit services: revision or in place, one rule set with the import."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from quiz_app.bank import editing
from quiz_app.bank.fileformat import HEADER, BankFileError, check_table
from quiz_app.caches import CONTENT_EPOCH
from quiz_app.extensions import db
from quiz_app.models import AuditEvent, CacheEpoch, Category, Question, User
from tests.conftest import NOW

GOOD = {
    "id": "health-900",
    "category": "health",
    "type": "single",
    "difficulty": 2,
    "stem": "成年人每天建议饮水量约为多少？",
    "options": ["500毫升", "1500～1700毫升", "5000毫升"],
    "answer": "B",
    "explanation": "《中国居民膳食指南》建议成年人每天饮水1500～1700毫升。",
    "source": "中国居民膳食指南（2022）",
    "group": "",
}

# (changes to GOOD, the field the message belongs to)
BAD = [
    ({"answer": "Z"}, "answer"),
    ({"answer": "AB"}, "answer"),
    ({"type": "multiple", "answer": "B"}, "answer"),
    ({"type": "judge"}, "options"),
    ({"type": "judge", "options": [], "answer": "对"}, "answer"),
    ({"options": ["甲"]}, "options"),
    ({"options": ["甲", "", "丙"]}, "options"),
    ({"options": ["甲", "甲"]}, "options"),
    ({"stem": ""}, "stem"),
    ({"stem": "=1+2"}, "stem"),
    ({"explanation": ""}, "explanation"),
    ({"source": ""}, "source"),
    ({"category": "nosuch"}, "category"),
    ({"difficulty": 7}, "difficulty"),
    ({"type": "essay"}, "type"),
    ({"id": "健康-1"}, "id"),
    ({"group": "组 1"}, "group"),
    ({"stem": "长" * 2001}, "stem"),
]


def as_csv_table(values):
    opts = list(values["options"]) + [""] * (6 - len(values["options"]))
    row = [
        values["id"],
        values["category"],
        values["type"],
        str(values["difficulty"]),
        values["stem"],
        *opts,
        values["answer"],
        values["explanation"],
        values["source"],
        values["group"],
    ]
    return [list(HEADER), row]


@pytest.fixture
def organizer(make_user):
    return make_user(role="organizer", name="李组织")


def actor(user):
    return db.session.get(User, user.id)


def epoch():
    return db.session.scalar(
        select(CacheEpoch.value).where(CacheEpoch.name == CONTENT_EPOCH)
    )


@pytest.mark.parametrize("changes, field", BAD)
def test_a_row_the_import_refuses_is_refused_by_the_edit(
    make_bank, ctx, organizer, changes, field
):
    make_bank()
    values = {**GOOD, **changes}
    with pytest.raises(BankFileError) as imported:
        check_table(as_csv_table(values), {"health", "safety", "science"})
    with pytest.raises(editing.QuestionInvalid) as created:
        editing.create_question(values, actor=actor(organizer), ip=None, now=NOW)
    assert list(created.value.fields) == [field]
    # the same message as the import gives for that row
    assert created.value.fields[field] == imported.value.errors[0].message
    db.session.rollback()
    assert db.session.get(Question, 1) is not None
    assert not db.session.scalar(
        select(Question).where(Question.ext_id == values["id"])
    )
    # and an edit of an existing question with the same values is refused too
    edit = {k: v for k, v in changes.items() if k != "id"}
    if edit:
        with pytest.raises(editing.QuestionInvalid):
            editing.update_question(
                "health-001", edit, actor=actor(organizer), ip=None, now=NOW
            )
        db.session.rollback()
        assert (
            db.session.scalar(
                select(Question.revision).where(Question.ext_id == "health-001")
            )
            == 1
        )


def test_create_adds_revision_one_by_the_organizer(make_bank, ctx, organizer):
    make_bank()
    before = epoch()
    q = editing.create_question(GOOD, actor=actor(organizer), ip="1.2.3.4", now=NOW)
    assert q.revision == 1 and q.current.created_by == organizer.id
    assert q.options == GOOD["options"] and q.answer == "B"
    assert epoch() == before + 1
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()[-1]
    assert (event.action, event.object, event.actor_id) == (
        "bank_create",
        "question:health-900",
        organizer.id,
    )
    with pytest.raises(editing.QuestionExists):
        editing.create_question(GOOD, actor=actor(organizer), ip=None, now=NOW)


def test_a_key_change_adds_a_revision(make_bank, ctx, organizer):
    make_bank()
    before = epoch()
    result = editing.update_question(
        "health-001", {"answer": "C"}, actor=actor(organizer), ip=None, now=NOW
    )
    assert result.revised and not result.edited
    q = result.question
    assert (q.revision, q.answer) == (2, "C")
    revs = editing.revisions_of(q)
    assert [r.number for r, _ in revs] == [2, 1]
    assert revs[0][1].id == organizer.id and revs[1][1] is None
    assert revs[1][0].answer == "A"  # the old revision is kept unchanged
    assert epoch() == before + 1


def test_in_place_fields_change_without_a_revision(make_bank, ctx, organizer):
    make_bank()
    result = editing.update_question(
        "health-001",
        {"category": "safety", "difficulty": 3, "source": "新来源", "group": "g-1"},
        actor=actor(organizer),
        ip=None,
        now=NOW,
    )
    assert result.edited and not result.revised
    q = result.question
    assert (q.revision, q.category_code, q.difficulty, q.source, q.group) == (
        1,
        "safety",
        3,
        "新来源",
        "g-1",
    )
    events = db.session.scalars(select(AuditEvent.outcome)).all()
    assert events[-1] == "in_place"


def test_identical_values_change_nothing(make_bank, ctx, organizer):
    make_bank()
    before = epoch()
    result = editing.update_question(
        "health-001", {"answer": "A"}, actor=actor(organizer), ip=None, now=NOW
    )
    assert not result.revised and not result.edited
    assert epoch() == before


def test_type_change_to_judge_drops_the_options(make_bank, ctx, organizer):
    make_bank()
    q = editing.update_question(
        "health-001",
        {"type": "judge", "answer": "错误"},
        actor=actor(organizer),
        ip=None,
        now=NOW,
    ).question
    assert (q.type, q.options, q.answer, q.revision) == (
        "judge",
        ["正确", "错误"],
        "B",
        2,
    )


def test_retire_and_restore_are_audited(make_bank, ctx, organizer):
    make_bank()
    editing.set_question_active(
        "health-001", False, actor=actor(organizer), ip=None, now=NOW
    )
    assert (
        db.session.scalar(
            select(Question.active).where(Question.ext_id == "health-001")
        )
        is False
    )
    editing.set_question_active(
        "health-001", True, actor=actor(organizer), ip=None, now=NOW
    )
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))
    assert list(actions)[-2:] == ["bank_retire", "bank_restore"]


def test_unknown_question(make_bank, ctx, organizer):
    make_bank()
    with pytest.raises(editing.NotInBank):
        editing.update_question("nope", {}, actor=actor(organizer), ip=None, now=NOW)


def test_categories_add_and_rename_keep_the_code(make_bank, ctx, organizer):
    make_bank()
    editing.add_category(
        "space", "航天", "航天科普", actor=actor(organizer), ip=None, now=NOW
    )
    with pytest.raises(editing.CategoryExists):
        editing.add_category("space", "x", "", actor=actor(organizer), ip=None, now=NOW)
    db.session.rollback()
    with pytest.raises(editing.QuestionInvalid) as bad:
        editing.add_category("Space 1", "", "", actor=None, ip=None, now=NOW)
    assert set(bad.value.fields) == {"code", "name"}
    editing.update_category(
        "health", "健康生活", "说明", actor=actor(organizer), ip=None, now=NOW
    )
    cat = db.session.get(Category, "health")
    assert (cat.name, cat.description) == ("健康生活", "说明")
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Question)
            .where(Question.category_code == "health")
        )
        == 14
    )
