"""Top-level commands: `flask setup` loads data; `flask demo` adds the demo contest
and accounts the run command prints."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import Flask
from sqlalchemy import select

from .auth.services import create_user
from .bank.fileformat import BankFileError
from .bank.services import import_directory
from .clock import utcnow
from .config import INSTANCE_DIR
from .contest.cli import CONTEST_2023
from .contest.services import clear_pool_cache, create_contest
from .extensions import db
from .leaderboard.services import rebuild_if_missing
from .models import Contest, User
from .regions import sync_regions

BANK_DIR = Path(__file__).resolve().parent.parent / "question_bank"
SH = ZoneInfo("Asia/Shanghai")
DEMO_TITLE = "演示竞赛（随时可参加）"
#: (role, phone, name, region, staff scope: "city" or a region code)
DEMO_ACCOUNTS = [
    ("citizen", "13800000001", "张明", "lunan", None),
    ("organizer", "13800000002", "李组织", "shizhi", None),
    ("staff", "13800000003", "王工作", "shizhi", "city"),
    ("staff", "13800000005", "孙路南", "lunan", "lunan"),
    ("admin", "13800000004", "赵管理", "shizhi", None),
]


def ensure_2023_contest() -> Contest:
    contest = db.session.scalar(select(Contest).where(Contest.title == CONTEST_2023))
    if contest is None:
        contest = create_contest(
            title=CONTEST_2023,
            description="2023年全国科普日唐山市主场活动：面向全市公民的科学素质知识网络竞赛。",
            starts_at=datetime(2023, 9, 17, tzinfo=SH),
            ends_at=datetime(2023, 9, 24, tzinfo=SH),
        )
    return contest


def ensure_demo_contest(now: datetime) -> Contest:
    """A contest open now (re-created when the last one has ended)."""
    contest = db.session.scalar(
        select(Contest)
        .where(Contest.title == DEMO_TITLE, Contest.ends_at > now)
        .order_by(Contest.ends_at.desc())
    )
    if contest is None:
        start = now.astimezone(SH).replace(hour=0, minute=0, second=0, microsecond=0)
        contest = create_contest(
            title=DEMO_TITLE,
            starts_at=start,
            ends_at=start + timedelta(days=7),
            description="与2023年竞赛规则相同的演示竞赛。",
        )
    return contest


def demo_accounts(now: datetime) -> list[tuple[str, str, str]]:
    """Create the demo accounts once; passwords are random, kept in instance/."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    store = INSTANCE_DIR / "demo-accounts.txt"
    known = {}
    if store.exists():
        for line in store.read_text().splitlines():
            role, phone, password = line.split("\t")
            known[phone] = (role, password)
    out = []
    for role, phone, name, region, scope in DEMO_ACCOUNTS:
        exists = db.session.scalar(select(User.id).where(User.phone == phone))
        if not exists:
            password = secrets.token_urlsafe(9)
            create_user(
                name=name,
                phone=phone,
                region=region,
                password=password,
                role=role,
                public_ranking=True,
                city_wide=scope == "city",
                staff_region=scope if scope not in (None, "city") else None,
                now=now,
            )
            known[phone] = (role if scope is None else f"{role}:{scope}", password)
        if phone in known:
            out.append((known[phone][0], phone, known[phone][1]))
    store.write_text("".join(f"{r}\t{p}\t{pw}\n" for r, p, pw in out))
    store.chmod(0o600)
    return out


def register(app: Flask) -> None:
    @app.cli.command("setup")
    @click.option(
        "--bank",
        "bank_dir",
        type=click.Path(path_type=Path),
        default=BANK_DIR,
        show_default=True,
    )
    def setup_command(bank_dir: Path) -> None:
        """Load regions, the starter bank's new questions and the 2023 contest
        (idempotent; questions already in the bank are never overwritten: edits
        go through `flask bank import` or the organizer pages)."""
        now = utcnow()
        click.echo(f"regions: {sync_regions()}")
        try:
            result = import_directory(bank_dir, now=now, only_new=True)
        except BankFileError as exc:
            raise click.ClickException(f"question bank rejected: {exc}")
        clear_pool_cache()
        click.echo(f"questions: {result.total} ({result.created} new)")
        contest = ensure_2023_contest()
        click.echo(f"contest {contest.id}: {contest.title}")
        # Start-up repair: boards missing from Redis (new or restarted) are rebuilt.
        for c in db.session.scalars(select(Contest)):
            if rebuild_if_missing(c):
                click.echo(f"leaderboards of contest {c.id} rebuilt from the database")

    @app.cli.command("demo")
    @click.option(
        "--allow-production",
        is_flag=True,
        help="Run even with COOKIE_SECURE=1 (a production setup).",
    )
    def demo_command(allow_production: bool) -> None:
        """Add an open demo contest and demo accounts; print them."""
        if app.config.get("COOKIE_SECURE") and not allow_production:
            # Demo accounts have known phones and their passwords sit in a
            # file: never on a real deployment by accident.
            raise click.ClickException(
                "refusing to add demo accounts in production (COOKIE_SECURE=1); "
                "pass --allow-production to do it anyway"
            )
        now = utcnow()
        contest = ensure_demo_contest(now)
        rebuild_if_missing(contest)
        click.echo(
            f"demo contest {contest.id}: {contest.title}, open until "
            f"{contest.ends_at.astimezone(SH):%Y-%m-%d %H:%M}"
        )
        click.echo("demo accounts (log in with phone + password):")
        for role, phone, password in demo_accounts(now):
            click.echo(f"  {role:<12} {phone}  {password}")
