"""Organizer bank pages through the test client."""

from __future__ import annotations

import csv
import io
import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app.bank.fileformat import HEADER, check_table, read_table
from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import Attempt, AuditEvent, Category, Contest, Question, User
from tests.bank.test_editing import BAD, GOOD


def form_data(values, token):
    opts = list(values["options"]) + [""] * (6 - len(values["options"]))
    data = {
        "csrf_token": token,
        "ext_id": values["id"],
        "category": values["category"],
        "type": values["type"],
        "difficulty": str(values["difficulty"]),
        "stem": values["stem"],
        "answer": values["answer"],
        "explanation": values["explanation"],
        "source": values["source"],
        "group": values["group"],
    }
    data.update({f"option_{c}": o for c, o in zip("abcdef", opts, strict=True)})
    return data


@pytest.fixture
def organizer(api, make_user, make_bank):
    make_bank()
    user = make_user(role="organizer", name="李组织")
    api.login(user)
    return user


def question(app, ext_id):
    with app.app_context():
        q = db.session.scalar(select(Question).where(Question.ext_id == ext_id))
        if q is None:
            return None
        return {
            "revision": q.revision,
            "answer": q.answer,
            "difficulty": q.difficulty,
            "active": q.active,
            "by": q.current.created_by,
        }


@pytest.mark.parametrize("role", ["citizen", "staff"])
def test_citizens_and_staff_get_403(api, app, make_user, make_bank, role):
    make_bank()
    api.login(make_user(role=role))
    token = api.token()
    for path in (
        "/admin/questions",
        "/admin/questions/new",
        "/admin/questions/health-001",
        "/admin/questions/health-001/preview",
        "/admin/questions/health-001/regrade?contest_id=1",
        "/admin/categories",
        "/admin/questions/export.csv",
        "/admin/questions/template.csv",
    ):
        assert api.client.get(path).status_code == 403, path
    for path, data in (
        ("/admin/questions/health-001", {"answer": "C"}),
        ("/admin/questions/health-001/active", {"active": "0"}),
        ("/admin/questions/new", form_data(GOOD, token)),
        ("/admin/categories", {"code": "x", "name": "x"}),
        ("/admin/questions/health-001/regrade", {"contest_id": "1"}),
    ):
        data["csrf_token"] = token
        assert api.client.post(path, data=data).status_code == 403, path
    assert question(app, "health-001")["active"] is True
    assert question(app, GOOD["id"]) is None


def test_list_search_filter_and_coverage(api, organizer, make_contest):
    make_contest(
        type_counts={"single": 10, "multiple": 5, "judge": 15},
        category_quotas={"health": 20},
    )
    page = api.client.get("/admin/questions").get_data(as_text=True)
    assert 'id="total">42<' in page
    assert "health-001" in page and 'href="/admin/categories"' in page
    # 12 judge questions in the bank, 15 wanted per paper: shown as short
    assert '<tr class="short"><td>判断</td><td>12</td><td>15</td>' in page
    assert '<tr class="short"><td><a href="/admin/questions?category=health">' in page
    hit = api.client.get("/admin/questions?q=safety 第2题").get_data(as_text=True)
    assert 'id="total">1<' in hit and "safety-002" in hit
    judge = api.client.get("/admin/questions?type=judge&category=science&difficulty=1")
    assert 'id="total">2<' in judge.get_data(as_text=True)
    assert api.client.get("/admin/questions?type=essay").status_code == 400
    assert api.client.get("/admin/questions?page=x").status_code == 400


def test_create_question_and_the_existing_id(api, app, organizer):
    token = api.token()
    r = api.client.post("/admin/questions/new", data=form_data(GOOD, token))
    assert r.status_code == 303 and r.location.endswith("/admin/questions/health-900")
    assert question(app, "health-900")["by"] == organizer.id
    again = api.client.post("/admin/questions/new", data=form_data(GOOD, token))
    assert again.status_code == 409
    page = again.get_data(as_text=True)
    assert "这个编号已被使用" in page and 'class="field has-error"' in page


@pytest.mark.parametrize("changes, field", BAD)
def test_the_page_refuses_what_the_import_refuses(api, app, organizer, changes, field):
    values = {**GOOD, **changes}
    r = api.client.post("/admin/questions/new", data=form_data(values, api.token()))
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    name = {"id": "ext_id", "options": "option_a"}.get(field, field)
    # the message sits in the field's own box
    box = page.split(f'for="{name}"')[0].rsplit('<div class="field', 1)[1]
    assert box.startswith(" has-error"), field
    assert question(app, values["id"]) is None


def test_edit_key_adds_revision_and_in_place_does_not(api, app, organizer):
    token = api.token()
    values = {
        **GOOD,
        "id": "health-001",
        "stem": "health 第1题 题干",
        "options": [f"health1选项{c}" for c in "ABCD"],
        "answer": "C",
        "explanation": "health 第1题 解析",
        "source": "测试来源",
        "difficulty": 1,
    }
    r = api.client.post("/admin/questions/health-001", data=form_data(values, token))
    assert r.status_code == 303
    assert question(app, "health-001") == {
        "revision": 2,
        "answer": "C",
        "difficulty": 1,
        "active": True,
        "by": organizer.id,
    }
    values["difficulty"] = 3
    api.client.post("/admin/questions/health-001", data=form_data(values, token))
    got = question(app, "health-001")
    assert (got["revision"], got["difficulty"]) == (2, 3)
    page = api.client.get("/admin/questions/health-001").get_data(as_text=True)
    assert "2（当前）" in page and "李组织" in page and "文件导入" in page
    bad = api.client.post(
        "/admin/questions/health-001", data=form_data({**values, "answer": "Z"}, token)
    )
    assert bad.status_code == 422 and "不是已有的选项" in bad.get_data(as_text=True)
    assert question(app, "health-001")["answer"] == "C"


def test_unsafe_page_requests_need_csrf(api, app, organizer):
    data = form_data({**GOOD, "id": "health-001"}, "")
    del data["csrf_token"]
    assert api.client.post("/admin/questions/health-001", data=data).status_code == 400
    r = api.client.post("/admin/questions/health-001/active", data={"active": "0"})
    assert r.status_code == 400
    assert api.client.post("/admin/categories", data={"code": "x"}).status_code == 400
    assert question(app, "health-001") == {
        "revision": 1,
        "answer": "A",
        "difficulty": 1,
        "active": True,
        "by": None,
    }


def test_retire_and_restore(api, app, organizer):
    token = api.token()
    url = "/admin/questions/health-001/active"
    assert api.client.post(url, data={"csrf_token": token, "active": "0"}).status_code
    assert question(app, "health-001")["active"] is False
    page = api.client.get("/admin/questions/health-001").get_data(as_text=True)
    assert 'id="restore"' in page
    api.client.post(url, data={"csrf_token": token, "active": "1"})
    assert question(app, "health-001")["active"] is True
    assert api.client.post(url, data={"csrf_token": token, "active": "x"}).status_code
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert {"bank_retire", "bank_restore"} <= set(actions)


def test_preview_is_the_quiz_fieldset_and_may_be_framed_here(api, organizer):
    r = api.client.get("/admin/questions/health-011/preview")
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in r.headers["Content-Security-Policy"]
    assert '<fieldset class="card question"' in page and "判断题" in page
    assert page.count('class="option"') == 2 and "正确" in page
    assert api.client.get("/admin/questions/health-011/preview?revision=5").status_code
    assert api.client.get("/admin/questions/nope/preview").status_code == 404


def test_regrade_confirmation_counts_then_runs(api, app, organizer, make_user):
    contest_id = _contest(app)
    citizen = make_user(name="王选手")
    with app.app_context():
        contest = db.session.get(Contest, contest_id)
        now = utcnow()
        attempt, _ = svc.start_attempt(
            db.session.get(User, citizen.id),
            contest,
            now=now,
            grace_s=5,
            rng=random.Random(3),
        )
        items = svc.attempt_items(attempt)
        ans, rev = next((a, r) for a, r in items if r.type == "single")
        ext_id, cid, aid = ans.question.ext_id, contest.id, attempt.id
        for a, r in items:
            shown = svc.to_display(a.option_order, r.answer)
            svc.save_answer(attempt.id, citizen, a.position, shown, now=now)
        svc.submit_attempt(
            attempt.id, citizen, now=now + timedelta(seconds=9), grace_s=5
        )
        before = db.session.get(Attempt, aid).score
        new_key = "B" if rev.answer != "B" else "C"
        db.session.remove()
    url = f"/admin/questions/{ext_id}/regrade"
    page = api.client.get(f"{url}?contest_id={cid}").get_data(as_text=True)
    assert "没有需要重新评分的答卷" in page
    r = api.client.patch(
        f"/api/v1/admin/questions/{ext_id}",
        json={"answer": new_key},
        headers={"X-CSRFToken": api.token()},
    )
    assert r.status_code == 200
    page = api.client.get(f"{url}?contest_id={cid}").get_data(as_text=True)
    assert "有 <strong>1</strong> 份已交卷的答卷" in page
    r = api.client.post(url, data={"csrf_token": api.token(), "contest_id": str(cid)})
    assert r.status_code == 303
    flashed = api.client.get(r.location).get_data(as_text=True)
    assert "1 份答卷按当前答案重新评分，其中 1 份分数有变化" in flashed
    with app.app_context():
        assert db.session.get(Attempt, aid).score == before - 10
    assert api.client.get(f"{url}?contest_id=99").status_code == 404
    assert api.client.post(url, data={"csrf_token": api.token()}).status_code == 400


def _contest(app):
    from quiz_app.contest.services import create_contest

    with app.app_context():
        c = create_contest(
            title="测试竞赛",
            starts_at=utcnow() - timedelta(days=1),
            ends_at=utcnow() + timedelta(days=2),
            type_counts={"single": 4, "multiple": 3, "judge": 3},
            points_per_question=10,
        )
        return c.id


def test_categories_add_rename_and_errors(api, app, organizer):
    token = api.token()
    page = api.client.get("/admin/categories").get_data(as_text=True)
    assert "分类health" in page
    r = api.client.post(
        "/admin/categories",
        data={"csrf_token": token, "code": "space", "name": "航天", "description": ""},
    )
    assert r.status_code == 303
    dup = api.client.post(
        "/admin/categories",
        data={"csrf_token": token, "code": "space", "name": "又一个"},
    )
    assert dup.status_code == 409 and "这个代码已存在" in dup.get_data(as_text=True)
    bad = api.client.post(
        "/admin/categories", data={"csrf_token": token, "code": "Bad Code", "name": ""}
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "代码只能用小写字母" in text and "请填写分类名称" in text
    r = api.client.post(
        "/admin/categories/health",
        data={
            "csrf_token": token,
            "health-name": "健康生活",
            "health-description": "饮食与运动",
        },
    )
    assert r.status_code == 303
    empty = api.client.post(
        "/admin/categories/health",
        data={"csrf_token": token, "health-name": "", "health-description": ""},
    )
    assert empty.status_code == 422
    with app.app_context():
        cat = db.session.get(Category, "health")
        assert (cat.name, cat.description) == ("健康生活", "饮食与运动")
        assert db.session.get(Category, "space").name == "航天"


def test_export_filtered_and_the_template(api, app, organizer):
    r = api.client.get("/admin/questions/export.csv?category=safety&type=judge")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    assert rows[0] == list(HEADER) and len(rows) == 5
    assert {row[0] for row in rows[1:]} == {f"safety-{n:03d}" for n in range(11, 15)}
    full = api.client.get("/admin/questions/export.xlsx")
    assert full.status_code == 200
    assert len(read_table(full.get_data(), "bank.xlsx")) == 43
    for fmt in ("csv", "xlsx"):
        t = api.client.get(f"/admin/questions/template.{fmt}")
        table = read_table(t.get_data(), f"template.{fmt}")
        rows = check_table(table, {"health", "safety", "science"})
        assert [row.type for row in rows] == ["single", "multiple", "judge"]


def test_every_empty_field_is_named_next_to_it(api, app, organizer):
    empty = {**GOOD, "stem": "", "explanation": "", "source": "", "answer": ""}
    r = api.client.post("/admin/questions/new", data=form_data(empty, api.token()))
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert page.count('class="field has-error"') == 4
    for label in ("题干", "答案", "解析", "出处"):
        assert f"“{label}” 不能为空" in page
    assert question(app, GOOD["id"]) is None
