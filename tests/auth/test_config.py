"""Start-up configuration: the secret key, production guards."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from quiz_app import create_app
from quiz_app.cli import DEMO_ACCOUNTS
from quiz_app.config import Config, ConfigError, TestConfig
from quiz_app.extensions import db
from quiz_app.serve import instance_secret_key

ROOT = Path(__file__).resolve().parent.parent.parent


def test_production_refuses_to_start_without_a_secret_key(database_url):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app(
            Config,
            SECRET_KEY=None,
            COOKIE_SECURE=True,
            SQLALCHEMY_DATABASE_URI=database_url,
        )


def test_a_local_app_without_a_secret_key_gets_a_random_one(database_url, redis_server):
    keys = []
    for _ in range(2):
        app = create_app(
            TestConfig,
            SECRET_KEY=None,
            SQLALCHEMY_DATABASE_URI=database_url,
            REDIS_URL=redis_server.connection_url,
            RATELIMIT_STORAGE_URI=redis_server.connection_url,
        )
        keys.append(app.config["SECRET_KEY"])
        with app.app_context():
            db.engine.dispose()
    assert all(len(k) == 64 for k in keys) and keys[0] != keys[1]


def test_importing_the_app_writes_nothing(tmp_path):
    """Importing the config (gunicorn, flask CLI, tests) must not create files
    next to the code; only the local run command keeps a key in instance/."""
    shutil.copytree(
        ROOT / "quiz_app", tmp_path / "quiz_app", ignore=shutil.ignore_patterns("*.pyc")
    )
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    subprocess.run(
        [sys.executable, "-c", "import quiz_app.config, quiz_app"],
        cwd=tmp_path,
        env=env,
        check=True,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quiz_app"]


def test_the_local_run_keeps_one_private_key_in_instance(tmp_path):
    instance = tmp_path / "instance"
    key = instance_secret_key(instance)
    assert len(key) == 64 and instance_secret_key(instance) == key
    mode = stat.S_IMODE((instance / "secret_key").stat().st_mode)
    assert mode == 0o600


@pytest.fixture
def production_app(app, database_url, redis_server):
    prod = create_app(
        TestConfig,
        COOKIE_SECURE=True,
        SQLALCHEMY_DATABASE_URI=database_url,
        REDIS_URL=redis_server.connection_url,
        RATELIMIT_STORAGE_URI=redis_server.connection_url,
    )
    yield prod
    with prod.app_context():
        db.session.remove()
        db.engine.dispose()


def test_demo_refuses_to_run_in_production(
    production_app, make_bank, monkeypatch, tmp_path
):
    from quiz_app import cli
    from quiz_app.models import Contest, User

    monkeypatch.setattr(cli, "INSTANCE_DIR", tmp_path)  # the demo passwords file
    make_bank()
    runner = production_app.test_cli_runner()
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0
    assert "refusing to add demo accounts in production" in result.output
    with production_app.app_context():
        assert db.session.query(User).count() == 0
        assert db.session.query(Contest).count() == 0
    result = runner.invoke(args=["demo", "--allow-production"])
    assert result.exit_code == 0, result.output
    with production_app.app_context():
        assert db.session.query(User).count() == len(DEMO_ACCOUNTS)
