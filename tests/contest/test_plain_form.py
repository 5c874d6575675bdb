"""The no-JavaScript quiz form: clearing answers, and a session ended mid-post."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from quiz_app.extensions import db
from quiz_app.models import Attempt, User
from tests.auth.test_views import csrf_from


@pytest.fixture
def contest(make_open_contest):
    return make_open_contest()


def start_by_form(client, api, user):
    """Log in and start an attempt through the pages; (attempt id, quiz html)."""
    api.login(user)
    token = csrf_from(client.get("/").get_data(as_text=True))
    r = client.post("/quiz/start", data={"csrf_token": token})
    assert r.status_code == 302
    attempt_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    return attempt_id, client.get(f"/quiz/{attempt_id}").get_data(as_text=True)


def positions_of_type(html: str, qtype: str) -> list[int]:
    return [
        int(p)
        for p in re.findall(
            r'data-position="(\d+)"\s+data-version="\d+" data-type="' + qtype, html
        )
    ]


def stored(app, attempt_id) -> dict[int, str | None]:
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        return {a.position: a.choices for a in attempt.answers}


def test_quiz_form_names_every_question_it_shows(client, api, make_user, contest):
    _, html = start_by_form(client, api, make_user())
    assert re.findall(r'name="shown" value="(\d+)"', html) == [
        str(p) for p in range(1, 11)
    ]


def test_an_empty_submission_clears_a_multiple_choice_answer(
    client, api, app, make_user, contest
):
    attempt_id, html = start_by_form(client, api, make_user())
    multi = positions_of_type(html, "multiple")[0]
    single = positions_of_type(html, "single")[0]
    token = csrf_from(html)
    form = {"csrf_token": token, "shown": [str(multi), str(single)]}
    r = client.post(
        f"/quiz/{attempt_id}/save",
        data={**form, f"q{multi}": ["A", "C"], f"q{single}": "B"},
    )
    assert r.status_code == 302
    before = stored(app, attempt_id)
    assert len(before[multi]) == 2 and before[single]

    # Untick everything on the multiple-choice question and save again.
    r = client.post(f"/quiz/{attempt_id}/save", data={**form, f"q{single}": "B"})
    assert r.status_code == 302
    after = stored(app, attempt_id)
    assert after[multi] is None
    assert after[single] == before[single]
    html = client.get(f"/quiz/{attempt_id}").get_data(as_text=True)
    assert "答案已保存" in html

    # A question the form did not show is left alone.
    client.post(
        f"/quiz/{attempt_id}/save",
        data={"csrf_token": token, "shown": str(multi), f"q{multi}": "B"},
    )
    assert stored(app, attempt_id)[single] == before[single]


def test_tampered_positions_in_the_form_are_ignored(
    client, api, app, make_user, contest
):
    attempt_id, html = start_by_form(client, api, make_user())
    token = csrf_from(html)
    r = client.post(
        f"/quiz/{attempt_id}/save",
        data={
            "csrf_token": token,
            "shown": ["²", "0", "-1", str(2**70), "x", "999"],
            "q²": "A",
            f"q{2**70}": "A",
            "q1": "A",
        },
    )
    assert r.status_code == 302
    answers = stored(app, attempt_id)
    assert answers[1] is not None
    assert all(v is None for p, v in answers.items() if p != 1)


@pytest.fixture
def disable_after_first_save(app):
    """Disable the account right after the first answer save's connection goes
    back to the pool: the next save of the same request finds the session dead,
    as when an admin disables the account while a form is on its way."""
    state = {"armed": False, "done": False, "user_id": None}
    with app.app_context():
        engine = db.engine
    other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])

    def after_execute(conn, cursor, statement, params, context, executemany):
        if "UPDATE attempt_answer SET choices" in statement:
            state["armed"] = True

    def on_checkin(dbapi_conn, record):
        if state["armed"] and not state["done"] and state["user_id"]:
            state["done"] = True
            with other.begin() as conn:
                conn.execute(
                    sa.update(User)
                    .where(User.id == state["user_id"])
                    .values(disabled=True)
                )

    sa.event.listen(engine, "after_cursor_execute", after_execute)
    sa.event.listen(engine.pool, "checkin", on_checkin)
    yield state
    sa.event.remove(engine, "after_cursor_execute", after_execute)
    sa.event.remove(engine.pool, "checkin", on_checkin)
    other.dispose()


@pytest.mark.parametrize("action", ["save", "submit"])
def test_session_ended_during_a_form_post_goes_to_login(
    client, api, app, make_user, contest, disable_after_first_save, action
):
    user = make_user()
    attempt_id, html = start_by_form(client, api, user)
    token = csrf_from(html)
    disable_after_first_save["user_id"] = user.id
    r = client.post(
        f"/quiz/{attempt_id}/{action}",
        data={"csrf_token": token, "q1": "A", "q2": "A", "q3": "A"},
    )
    assert disable_after_first_save["done"]
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    assert r.headers["Location"].startswith("/login?next=")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "登录已失效" in page
    # Only the save made while the session was alive counts; nothing was scored.
    answers = stored(app, attempt_id)
    assert answers[1] is not None and answers[2] is None and answers[3] is None
    with app.app_context():
        assert db.session.get(Attempt, attempt_id).finished_at is None
    # And the browser is logged out.
    assert client.get("/me").status_code == 302
