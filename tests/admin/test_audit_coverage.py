"""Every audited action has a label on the log page, and the command-line
paths (accounts, bank import) are audited like the pages."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from quiz_app.admin.audit import ACTION_LABELS
from quiz_app.bank.services import sync_categories
from quiz_app.extensions import db
from quiz_app.models import AuditEvent
from tests.conftest import bank_rows, rows_to_csv

SOURCE = Path(__file__).resolve().parents[2] / "quiz_app"
CALL = re.compile(
    r'\b(?:audit|_audit|add_audit|_event|_commit)\(\s*(?:contest,\s*)?"([a-z_]+)"'
)
ASSIGNED = re.compile(r'\baction = "([a-z_]+)"(?: if \w+ else "([a-z_]+)")?')
CHOSEN = re.compile(r'"(account_[a-z_]+)" if \w+ else "(account_[a-z_]+)"')


def written_actions() -> set[str]:
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in (CALL, ASSIGNED, CHOSEN):
            for match in pattern.finditer(text):
                found.update(g for g in match.groups() if g)
    return found


def test_every_written_action_has_a_chinese_label():
    actions = written_actions()
    # the scan finds the families the issue lists
    for expected in ("bank_edit", "bank_import", "regrade", "contest_edit",
                     "disqualify", "account_disable", "stats_export",
                     "bank_restore", "bank_retire"):  # fmt: skip
        assert expected in actions, expected
    assert actions <= set(ACTION_LABELS), actions - set(ACTION_LABELS)


def actions(app):
    with app.app_context():
        return [
            (e.action, e.outcome, e.ip)
            for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def test_cli_account_and_bank_import_are_audited(app, tmp_path):
    runner = app.test_cli_runner()
    r = runner.invoke(
        args=["user", "create", "--role", "staff", "--phone", "13911110000",
              "--name", "王工作", "--staff-region", "lunan",
              "--password", "kexue-2023-staff"]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with app.app_context():
        sync_categories([(c, c, "") for c in ("health", "safety", "science")])
        db.session.commit()
    good = tmp_path / "bank.csv"
    good.write_bytes(rows_to_csv(bank_rows()))
    assert runner.invoke(args=["bank", "import", str(good)]).exit_code == 0
    bad_rows = bank_rows()
    bad_rows[2][2] = "essay"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(rows_to_csv(bad_rows))
    assert runner.invoke(args=["bank", "import", str(bad)]).exit_code != 0
    assert actions(app) == [
        ("account_create", "ok", "cli"),
        ("bank_import", "ok:42", "cli"),
        ("bank_import", "rejected", "cli"),
    ]
