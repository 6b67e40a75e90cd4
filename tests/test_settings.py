"""Configuration from the environment and `.env`, and the production settings' deploy check.

Settings are read once per process, so every case runs `opiekun` (or Python) in a subprocess with
exactly the environment an operator would set, from a folder of its own.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

OPIEKUN = str(Path(sys.executable).with_name("opiekun"))

SHOW = (
    "import json; from django.conf import settings as s; print(json.dumps({"
    "'data_dir': str(s.DATA_DIR), 'port': s.OPIEKUN_PORT, 'host': s.OPIEKUN_HOST, 'debug': s.DEBUG, "
    "'engine': s.DATABASES['default']['ENGINE'], 'db_name': s.DATABASES['default']['NAME'], "
    "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], 'huey': s.HUEY['huey_class'], "
    "'public_url': s.OPIEKUN_PUBLIC_URL, 'email_backend': s.EMAIL_BACKEND}))"
)


def clean_env(**extra: str) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPIEKUN_", "DATABASE_URL", "REDIS_URL", "DJANGO_"))
    }
    return {**keep, "DJANGO_SETTINGS_MODULE": "opiekun.config.settings.dev", **extra}


def show(cwd: Path, **env: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {SHOW}"],
        env=clean_env(**env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def production_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """What a production install sets (docs/operations.md)."""
    return clean_env(
        **{
            "DJANGO_SETTINGS_MODULE": "opiekun.config.settings.prod",
            "OPIEKUN_DATA_DIR": str(data_dir),
            "OPIEKUN_SECRET_KEY": secrets.token_urlsafe(64),
            "OPIEKUN_ALLOWED_HOSTS": "help.sklep.example",
            "OPIEKUN_CSRF_TRUSTED_ORIGINS": "https://help.sklep.example",
            "OPIEKUN_PUBLIC_URL": "https://help.sklep.example",
            **extra,
        }
    )


def test_dot_env_in_the_working_folder_is_read(tmp_path):
    (tmp_path / ".env").write_text(
        "# an operator's .env\nOPIEKUN_DATA_DIR=./from-dotenv\nOPIEKUN_PORT=8123\nOPIEKUN_HOST=10.0.0.5\n"
    )
    shown = show(tmp_path)
    assert shown["data_dir"] == str(tmp_path / "from-dotenv")
    assert (shown["port"], shown["host"]) == (8123, "10.0.0.5")
    assert shown["db_name"] == str(tmp_path / "from-dotenv" / "opiekun.sqlite3")

    done = subprocess.run(
        [OPIEKUN, "migrate", "--noinput", "-v", "0"],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "from-dotenv" / "opiekun.sqlite3").exists()


def test_the_environment_wins_over_dot_env(tmp_path):
    (tmp_path / ".env").write_text("OPIEKUN_PORT=8123\n")
    assert show(tmp_path, OPIEKUN_PORT="9001")["port"] == 9001


def test_defaults_are_a_laptop_install_on_sqlite(tmp_path):
    shown = show(tmp_path)
    assert shown["data_dir"] == str(tmp_path / "var")
    assert (shown["host"], shown["port"], shown["public_url"]) == ("127.0.0.1", 8000, "http://127.0.0.1:8000")
    assert shown["engine"] == "opiekun.core.sqlite" and shown["debug"] is False
    assert (
        shown["layer"] == "opiekun.realtime.layers.InMemoryChannelLayer"
        and shown["huey"] == "huey.SqliteHuey"
    )
    assert (
        shown["email_backend"] == "django.core.mail.backends.filebased.EmailBackend"
    )  # no real mail on a laptop


def test_database_url_and_redis_url_switch_to_the_scaled_topology(tmp_path):
    shown = show(
        tmp_path,
        DATABASE_URL="postgresql://opiekun:pw@db.internal:5432/opiekun",
        REDIS_URL="redis://cache.internal:6379/0",
    )
    assert shown["engine"] == "django.db.backends.postgresql" and shown["db_name"] == "opiekun"
    assert shown["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert shown["huey"] == "huey.RedisHuey"


def test_each_data_folder_gets_its_own_secret_key(tmp_path):
    for name in ("a", "b"):
        show(tmp_path, OPIEKUN_DATA_DIR=str(tmp_path / name))
    keys = {(tmp_path / n / "secret_key").read_text() for n in ("a", "b")}
    assert len(keys) == 2 and all(len(k) >= 50 for k in keys)
    show(tmp_path, OPIEKUN_DATA_DIR=str(tmp_path / "a"))
    assert (tmp_path / "a" / "secret_key").read_text() in keys  # kept, not regenerated


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    done = subprocess.run(
        [OPIEKUN, "check", "--deploy", "--fail-level", "WARNING"],
        env=production_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout
    assert "WARNING" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("settings_module", "extra", "expected"),
    [
        (
            "opiekun.config.settings.dev",
            {},
            "security.W004",
        ),  # no HSTS, no secure cookies: not for production
        ("opiekun.config.settings.prod", {"OPIEKUN_SECRET_KEY": "short"}, "security.W009"),
    ],
    ids=["dev-settings", "weak-key"],
)
def test_check_deploy_does_complain_when_it_should(tmp_path, settings_module, extra, expected):
    """The clean result above means something: the same check fails on settings that are not fit."""
    env = {**production_env(tmp_path, **extra), "DJANGO_SETTINGS_MODULE": settings_module}
    done = subprocess.run(
        [OPIEKUN, "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and expected in done.stdout + done.stderr


def test_production_logging_masks_secrets_on_the_console(tmp_path):
    """End to end: the configured console handler carries the redaction filter."""
    code = (
        "import logging; log = logging.getLogger('opiekun.test'); "
        "log.warning('login password=%s token=%s link %s', 'hunter2', 'tok-123', "
        "'https://help.sklep.example/portal/t/eyJjIjoxfQ:1abc:sig/?next=4')"
    )
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=production_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "password=***" in done.stderr and "token=***" in done.stderr and "/portal/t/***" in done.stderr
    for secret in ("hunter2", "tok-123", "eyJjIjoxfQ"):
        assert secret not in done.stderr
