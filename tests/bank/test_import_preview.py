"""Bank import in two steps: an upload previews, a confirm applies exactly
the previewed rows (test client, real database)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from quiz_app.bank import staging
from quiz_app.clock import utcnow
from quiz_app.extensions import db
from quiz_app.models import AuditEvent, ImportStaging, Question, QuestionRevision
from tests.auth.test_views import csrf_from
from tests.conftest import Api, bank_rows, rows_to_csv


@pytest.fixture
def organizer(app, make_user, make_bank):
    make_bank()
    api = Api(app.test_client())
    user = make_user(role="organizer", name="李组织")
    api.login(user)
    api.user = user
    return api


def upload(api, rows, name="bank.csv"):
    token = csrf_from(api.client.get("/admin/questions").get_data(as_text=True))
    return api.client.post(
        "/admin/questions/import",
        data={"csrf_token": token, "file": (io.BytesIO(rows_to_csv(rows)), name)},
        content_type="multipart/form-data",
    )


def confirm(api, preview_url):
    page = api.client.get(preview_url).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', page)
    token = (
        m.group(1)
        if m
        else csrf_from(api.client.get("/admin/questions").get_data(as_text=True))
    )
    return api.client.post(preview_url + "/confirm", data={"csrf_token": token})


def bank_state(app):
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Question.id))),
            db.session.scalar(select(func.count(QuestionRevision.id))),
            sorted(
                db.session.execute(
                    select(
                        Question.ext_id,
                        Question.revision,
                        Question.difficulty,
                        Question.source,
                    )  # fmt: skip
                ).all()
            ),
        )


def changed_rows():
    """One new question, one new revision (answer and stem), one in-place
    edit (difficulty), the rest unchanged."""
    rows = bank_rows()
    new = list(rows[1])
    new[0] = "health-999"
    rows.append(new)
    rows[2][4] = "改过的题干"  # health-002: content -> revision 2
    rows[2][11] = "C" if rows[2][11] != "C" else "D"
    rows[3][3] = "3" if rows[3][3] != "3" else "1"  # health-003: difficulty only
    return rows


def test_preview_writes_nothing_and_lists_every_change(app, organizer):
    before = bank_state(app)
    r = upload(organizer, changed_rows())
    assert r.status_code == 303
    page = organizer.client.get(r.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert bank_state(app) == before
    assert "health-999" in html
    assert "题干、答案" in html  # what changed in the revision
    assert "第 1 版 → 第 2 版" in html
    assert "难度" in html
    with app.app_context():
        staged = db.session.scalar(select(ImportStaging))
        assert staged.plan["counts"] == {"created": 1, "revised": 1, "edited": 1,
                                         "unchanged": 40}  # fmt: skip
        assert staged.user_id == organizer.user.id
        assert len(staged.checksum) == 64 and staged.used_at is None
    assert 'id="confirm-import"' in html


def test_confirm_applies_exactly_the_previewed_rows_once(app, organizer):
    r = upload(organizer, changed_rows())
    preview = r.headers["Location"]
    r = confirm(organizer, preview)
    assert r.status_code == 303
    count, revisions, rows = bank_state(app)
    assert count == 43 and revisions == 44
    state = {ext_id: (rev, diff) for ext_id, rev, diff, _ in rows}
    assert state["health-999"][0] == 1
    assert state["health-002"][0] == 2
    assert state["health-003"][0] == 1
    with app.app_context():
        q = db.session.scalar(select(Question).where(Question.ext_id == "health-002"))
        assert q.current.stem == "改过的题干"
        assert q.current.created_by == organizer.user.id
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "bank_import")
        ).all()
        assert event.actor_id == organizer.user.id and event.outcome == "ok:43"
        assert "created=1" in event.object
    after = bank_state(app)
    again = confirm(organizer, preview)
    assert again.status_code == 409
    assert bank_state(app) == after
    assert 'id="confirm-import"' not in organizer.client.get(preview).get_data(
        as_text=True
    )


def test_another_organizer_can_neither_see_nor_confirm_it(app, organizer, make_user):
    preview = upload(organizer, changed_rows()).headers["Location"]
    other = Api(app.test_client())
    other.login(make_user(role="organizer", name="王组织"))
    assert other.client.get(preview).status_code == 404
    token = csrf_from(other.client.get("/admin/questions").get_data(as_text=True))
    r = other.client.post(preview + "/confirm", data={"csrf_token": token})
    assert r.status_code == 404
    assert bank_state(app)[0] == 42
    assert confirm(organizer, preview).status_code == 303  # still the owner's


def test_errors_block_the_confirm(app, organizer):
    rows = changed_rows()
    rows[5][2] = "essay"
    rows[7][11] = "Z"
    before = bank_state(app)
    r = upload(organizer, rows)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "第6行" in html and "第8行" in html
    assert "confirm" not in html
    with app.app_context():
        assert db.session.scalar(select(func.count(ImportStaging.id))) == 0
    assert bank_state(app) == before


def test_a_bank_change_after_the_preview_gives_a_new_preview(app, organizer):
    preview = upload(organizer, changed_rows()).headers["Location"]
    with app.app_context():  # someone edits health-003 in place meanwhile
        q = db.session.scalar(select(Question).where(Question.ext_id == "health-003"))
        q.source = "另一个出处"
        db.session.commit()
    before = bank_state(app)
    r = confirm(organizer, preview)
    assert r.status_code == 303
    fresh = r.headers["Location"]
    assert fresh != preview and "/admin/questions/import/" in fresh
    assert bank_state(app) == before  # nothing applied from the stale preview
    html = organizer.client.get(fresh).get_data(as_text=True)
    assert "出处" in html
    assert confirm(organizer, preview).status_code == 409  # the old one is void
    assert confirm(organizer, fresh).status_code == 303
    with app.app_context():
        q = db.session.scalar(select(Question).where(Question.ext_id == "health-003"))
        assert q.source == "测试来源"


def test_an_expired_preview_is_refused(app, organizer):
    preview = upload(organizer, changed_rows()).headers["Location"]
    with app.app_context():
        staged = db.session.scalar(select(ImportStaging))
        staged.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert confirm(organizer, preview).status_code == 409
    assert bank_state(app)[0] == 42


def test_confirm_needs_csrf_and_the_organizer_role(app, organizer, make_user):
    preview = upload(organizer, changed_rows()).headers["Location"]
    assert organizer.client.post(preview + "/confirm").status_code == 400
    for role in ("citizen", "staff"):
        api = Api(app.test_client())
        api.login(make_user(role=role))
        assert api.client.get(preview).status_code == 403
    assert organizer.client.get("/admin/questions/import/nope").status_code == 404


def test_plan_service_reads_only(app, organizer):
    from quiz_app.bank.fileformat import check_table

    with app.app_context():
        rows = check_table(changed_rows(), {"health", "safety", "science"})
        digest = staging.bank_digest(rows)
        plan = staging.plan_import(rows)
        assert plan["counts"]["created"] == 1
        assert staging.bank_digest(rows) == digest
        db.session.rollback()
    assert bank_state(app)[0] == 42
