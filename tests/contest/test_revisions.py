"""Questions change, attempts don't: revisions, retirement, exclusion groups."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app.bank.services import import_file, set_active
from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import AttemptAnswer, Contest, Question, QuestionRevision
from tests.conftest import bank_rows, rows_to_csv

GRACE = 5


def rows_by_id():
    rows = bank_rows()
    return rows, {r[0]: r for r in rows[1:]}


def reimport(rows):
    result = import_file(rows_to_csv(rows), "bank.csv", now=utcnow())
    db.session.expire_all()
    return result


def drawn(app, attempt):
    """{question ext id: position} of an attempt object from the API."""
    with app.app_context():
        return {
            db.session.get(Question, ans.question_id).ext_id: ans.position
            for ans in db.session.scalars(
                select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt["id"])
            )
        }


@pytest.fixture
def citizen_in_contest(app, api, make_open_contest, make_user):
    contest = make_open_contest()
    user = make_user()
    api.login(user)
    r = api.post("/api/v1/attempts", {})
    assert r.status_code == 201, r.get_json()
    return contest, user, r.get_json()


def test_reimport_changing_options_and_key_keeps_the_open_attempt(
    app, api, citizen_in_contest
):
    contest, user, attempt = citizen_in_contest
    positions = drawn(app, attempt)
    single = next(
        q for q in attempt["questions"] if q["type"] == "single"
    )  # four options today
    ext_id = next(e for e, p in positions.items() if p == single["position"])
    shown = api.get(f"/api/v1/attempts/{attempt['id']}").get_json()
    old_q = next(q for q in shown["questions"] if q["position"] == single["position"])
    assert len(old_q["options"]) == 4

    # The organizer re-imports the question with 3 options, a new key and stem.
    rows, by_id = rows_by_id()
    row = by_id[ext_id]
    row[4] = "改写后的题干"
    row[5:11] = ["新甲", "新乙", "新丙", "", "", ""]
    row[11] = "C"
    with app.app_context():
        result = reimport(rows)
    assert result.revised == 1 and result.unchanged == len(rows) - 2

    # The open attempt still shows and accepts what the citizen saw: 4 options.
    again = api.get(f"/api/v1/attempts/{attempt['id']}")
    assert again.status_code == 200
    q = next(
        q for q in again.get_json()["questions"] if q["position"] == old_q["position"]
    )
    assert q["stem"] == old_q["stem"] and q["options"] == old_q["options"]
    r = api.put(
        f"/api/v1/attempts/{attempt['id']}/answers/{q['position']}", {"choices": ["D"]}
    )
    assert r.status_code == 200, r.get_json()
    r = api.post(f"/api/v1/attempts/{attempt['id']}/submit")
    assert r.status_code == 200, r.get_json()
    review = next(i for i in r.get_json()["review"] if i["position"] == q["position"])
    assert review["stem"] == old_q["stem"] and len(review["options"]) == 4
    # Scored against the key of the revision it drew (revision 1).
    ctx = app.app_context()
    ctx.push()
    rev1 = db.session.scalar(
        select(QuestionRevision)
        .join(Question, Question.id == QuestionRevision.question_id)
        .where(Question.ext_id == ext_id, QuestionRevision.number == 1)
    )
    ans = db.session.scalar(
        select(AttemptAnswer).where(
            AttemptAnswer.attempt_id == attempt["id"],
            AttemptAnswer.position == q["position"],
        )
    )
    assert ans.revision_id == rev1.id
    assert ans.is_correct == (ans.choices == rev1.answer)
    # The finished attempt's review and result stay the same after yet another edit.
    row[4] = "第三次修改"
    reimport(rows)
    ctx.pop()
    later = api.get(f"/api/v1/attempts/{attempt['id']}").get_json()["result"]
    assert later == r.get_json()


def test_new_attempts_draw_the_current_revision(ctx, make_open_contest, make_user):
    contest = make_open_contest()
    rows, by_id = rows_by_id()
    for row in rows[1:]:
        row[4] = row[4] + "（修订）"
    assert reimport(rows).revised == len(rows) - 1
    user = make_user()
    now = utcnow()
    attempt, _ = svc.start_attempt(
        user, db.session.get(Contest, contest.id), now=now, grace_s=GRACE
    )
    for _, rev in svc.attempt_items(attempt):
        assert rev.number == 2 and rev.stem.endswith("（修订）")
    history = db.session.scalars(
        select(QuestionRevision.number)
        .join(Question)
        .where(Question.ext_id == rows[1][0])
    ).all()
    assert sorted(history) == [1, 2]


def test_in_place_fields_do_not_add_a_revision(ctx, make_bank):
    make_bank()
    rows, by_id = rows_by_id()
    rows[1][3] = "3" if rows[1][3] != "3" else "1"  # difficulty
    rows[1][13] = "新的出处"  # source
    rows[2][14] = "pair-1"  # group
    result = reimport(rows)
    assert (result.revised, result.edited) == (0, 2)
    q = db.session.scalar(select(Question).where(Question.ext_id == rows[1][0]))
    assert q.revision == 1 and q.source == "新的出处"


def test_retired_question_is_never_drawn_but_open_attempts_keep_it(
    ctx, make_open_contest, make_user
):
    contest = make_open_contest()
    user, others = make_user(), [make_user() for _ in range(30)]
    contest = db.session.get(Contest, contest.id)
    now = utcnow()
    attempt, _ = svc.start_attempt(user, contest, now=now, grace_s=GRACE)
    kept = svc.attempt_items(attempt)[0][0].question_id
    ext_id = db.session.get(Question, kept).ext_id
    set_active(ext_id, False, now=now)
    assert kept not in {i.id for i in svc.question_pool()}
    for seed, other in enumerate(others):
        a, _ = svc.start_attempt(
            other, contest, now=now, grace_s=GRACE, rng=random.Random(seed)
        )
        assert kept not in {ans.question_id for ans, _ in svc.attempt_items(a)}
    # The first attempt still has it and can be answered and submitted.
    done = svc.submit_attempt(attempt.id, user, now=now, grace_s=GRACE)
    assert kept in {ans.question_id for ans, _ in svc.attempt_items(done)}
    set_active(ext_id, True, now=now)
    assert kept in {i.id for i in svc.question_pool()}


def test_exclusion_groups_never_share_an_attempt(ctx, make_contest):
    """Pairs in one group never appear together; counts and quotas still hold,
    and every grouped question is still drawn."""
    from quiz_app.bank.services import sync_categories

    sync_categories([(c, c, "") for c in ("health", "safety", "science")])
    db.session.commit()
    rows = bank_rows()
    # Group the singles of each category in pairs: health-001 with health-002 ...
    grouped = {}
    for row in rows[1:]:
        if row[2] == "single":
            n = int(row[0].split("-")[1])
            row[14] = f"{row[1]}-g{(n + 1) // 2}"
            grouped[row[0]] = row[14]
    import_file(rows_to_csv(rows), "bank.csv", now=utcnow())
    now = utcnow()
    contest = make_contest(
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=2),
        type_counts={"single": 9, "multiple": 3, "judge": 3},
        category_quotas={"health": 3},
    )
    contest = db.session.get(Contest, contest.id)
    pool = svc.question_pool()
    seen = Counter()
    for seed in range(300):
        picked = svc.draw_questions(contest, pool, random.Random(seed))
        groups = [item.group for item, _ in picked if item.group]
        assert len(groups) == len(set(groups)), groups
        assert Counter(item.type for item, _ in picked) == {
            "single": 9,
            "multiple": 3,
            "judge": 3,
        }
        assert sum(1 for item, _ in picked if item.category == "health") >= 3
        seen.update(item.id for item, _ in picked)
    grouped_ids = [
        q.id
        for q in db.session.scalars(select(Question).where(Question.group.is_not(None)))
    ]
    assert len(grouped_ids) == len(grouped)
    # 9 singles from 9 groups of 2: each group gives one, about half the time each.
    for qid in grouped_ids:
        assert 90 <= seen[qid] <= 210, seen[qid]


def test_groups_that_make_the_draw_impossible_are_reported(ctx, make_bank):
    make_bank()
    rows = bank_rows()
    for row in rows[1:]:
        if row[2] == "judge":
            row[14] = "all-judges"  # 12 judge questions, only one may be drawn
    import_file(rows_to_csv(rows), "bank.csv", now=utcnow())
    probe = Contest(type_counts={"single": 2, "multiple": 1, "judge": 2})
    short = svc.bank_shortage(probe, svc.question_pool())
    assert short is not None and "judge" in short
    with pytest.raises(svc.BankTooSmall):
        svc.draw_questions(probe, svc.question_pool(), random.Random(1))
