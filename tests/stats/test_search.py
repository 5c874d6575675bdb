"""The county participant search: a name's beginning, a number's end (four
or more digits), its beginning (seven or more) or the whole number, each by
an index; scoped to the county, audited, and a hint instead of a scan for
what would match nobody or too many."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from quiz_app.clock import utcnow
from quiz_app.extensions import db
from quiz_app.models import AuditEvent, Contest, Question, Region, User
from quiz_app.privacy.services import TOMBSTONE_NAME, tombstone_phone
from quiz_app.stats import services as stats

from .scene import add_attempt, local

PEOPLE = [
    # key, region, name, phone, score
    ("A", "lunan", "张建国", "13812345678", 100),
    ("B", "lunan", "张建华", "13955555678", 90),
    ("C", "lunan", "王张明", "13812340001", 80),
    ("D", "lunan", "李四", "13700001234", 70),
    ("E", "qianan", "张伟", "13866665678", 100),
    ("F", "lunan", "赵六", "13600000000", 60),  # deletes the account below
]


@pytest.fixture
def county(app, make_bank, make_contest, make_user):
    make_bank()
    contest = make_contest(starts_at=local(17, 0), ends_at=local(20, 0))
    people = {
        key: make_user(region=region, name=name, phone=phone)
        for key, region, name, phone, _ in PEOPLE
    }
    with app.app_context():
        c = db.session.get(Contest, contest.id)
        question = db.session.scalars(select(Question)).first()
        for i, (key, _, _, _, score) in enumerate(PEOPLE):
            add_attempt(
                c, people[key].id, local(18, 9, i), 100, score, (True,), [question]
            )
        f = people["F"].id
        db.session.execute(
            update(User)
            .where(User.id == f)
            .values(name=TOMBSTONE_NAME, phone=tombstone_phone(f), deleted_at=utcnow())
        )
        db.session.commit()
    return contest, people


def search(app, contest_id: int, q: str, region: str = "lunan") -> dict:
    with app.app_context():
        c = db.session.get(Contest, contest_id)
        return stats.participants(c, db.session.get(Region, region), q=q)


@pytest.mark.parametrize(
    "q, names",
    [
        ("", ["张建国", "张建华", "王张明", "李四", TOMBSTONE_NAME]),
        ("张", ["张建国", "张建华"]),  # not 王张明, not qianan's 张伟
        ("张建", ["张建国", "张建华"]),
        ("  张建国 ", ["张建国"]),
        ("建国", []),  # a name is found by its beginning
        ("5678", ["张建国", "张建华"]),  # 尾号
        ("５６７８", ["张建国", "张建华"]),  # full-width, as typed on a phone
        ("45678", ["张建国"]),
        ("1234", ["李四"]),  # four digits are an end, never a beginning
        ("0001", ["王张明"]),
        ("138123", []),  # six digits: still only an end
        ("1381234", ["张建国", "王张明"]),  # seven: a beginning too
        ("13812345678", ["张建国"]),
        ("138 1234 5678", ["张建国"]),
        ("+86 138-1234-5678", ["张建国"]),
        ("13866665678", []),  # another county's citizen
    ],
)
def test_search_matches(app, county, q, names):
    contest, _ = county
    found = search(app, contest.id, q)
    assert [p["name"] for p in found["items"]] == names  # board order
    assert found["total"] == len(names) and found["hint"] is None


def test_anonymised_accounts_match_no_number(app, county):
    contest, people = county
    tail = tombstone_phone(people["F"].id)[-4:]
    assert search(app, contest.id, tail)["total"] == 0
    assert search(app, contest.id, "已注销")["total"] == 1  # by the name shown


@pytest.mark.parametrize("q", ["1", "138", "138123456789", "%", "_张", "张%", "a1"])
def test_what_cannot_be_a_search_gets_a_hint(app, county, q):
    contest, _ = county
    found = search(app, contest.id, q)
    assert found["items"] == [] and found["total"] == 0
    assert found["hint"] == stats.SEARCH_HINT


#: the unique index on user.phone: SQLite names a constraint's index itself
PHONE_INDEX = ("uq_user_phone", "sqlite_autoindex_user_")


def uses(plan: str, index: str | tuple[str, ...]) -> bool:
    names = (index,) if isinstance(index, str) else index
    return any(n in plan for n in names)


def explain(sql: str) -> str:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("SET LOCAL enable_seqscan = off"))
        rows = db.session.execute(db.text("EXPLAIN " + sql)).all()
    else:
        rows = db.session.execute(db.text("EXPLAIN QUERY PLAN " + sql)).all()
    return "\n".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    "q, index",
    [
        ("张建", "ix_user_name_prefix"),
        ("5678", "ix_user_phone_tail"),
        ("45678", "ix_user_phone_tail"),
        ("13812345678", PHONE_INDEX),
    ],
)
def test_each_kind_of_search_can_use_its_index(ctx, county, q, index):
    """The planner can find the matching accounts by index: the expression
    and the operator class in the query are exactly the indexed ones."""
    match, _ = stats.participant_search(q)
    query = select(User.id).where(match)
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    plan = explain(sql)
    assert uses(plan, index), plan
    if q == "45678":  # too short for a beginning: the number index is unused
        assert not uses(plan, PHONE_INDEX), plan
    db.session.rollback()


def test_seven_digits_use_both_number_indexes(ctx, county):
    match, _ = stats.participant_search("1381234")
    sql = str(
        select(User.id)
        .where(match)
        .compile(db.engine, compile_kwargs={"literal_binds": True})
    )
    plan = explain(sql)
    assert uses(plan, "ix_user_phone_tail") and uses(plan, PHONE_INDEX), plan
    db.session.rollback()


def test_county_page_search_hint_scope_and_audit(client, api, app, make_user, county):
    contest, _ = county
    api.login(make_user(role="staff", staff_region="lunan"))
    html = client.get(f"/staff/regions/lunan?contest={contest.id}&q=5678").get_data(
        as_text=True
    )
    assert "张建国" in html and "张建华" in html
    assert "张伟" not in html and "13866665678" not in html
    short = client.get(f"/staff/regions/lunan?contest={contest.id}&q=12")
    assert stats.SEARCH_HINT in short.get_data(as_text=True)
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent.object)
            .where(AuditEvent.action == "stats_identity_view")
            .order_by(AuditEvent.id)
        ).all()
    assert [e.split(" q=")[-1] for e in events] == ["5678", "12"]
    assert all("region=lunan" in e for e in events)
    other = client.get(f"/staff/regions/qianan?contest={contest.id}&q=5678")
    assert other.status_code == 403
