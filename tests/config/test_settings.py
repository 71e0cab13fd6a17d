import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3Jx9-QpL2vR7sT0wYz4uB8nM1cF6hG5dE_aZ3iO9pU2yT7rW0qX4sV8bN1mK6jH"
ENCRYPTION_KEY = Fernet.generate_key().decode()


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    own = {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "TANDEM_CHANNEL_ALLOWED_NETWORKS", "TANDEM_ENCRYPTION_KEYS"}
    base = {k: v for k, v in os.environ.items() if k not in own}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DEBUG": "0",
            "SECRET_KEY": STRONG_KEY,
            "ALLOWED_HOSTS": "tandem.example.be",
            "TANDEM_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_secret_key_is_required_when_debug_is_off():
    result = run_manage("check", env={"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    "key",
    [
        "short-but-random-Q7x!",  # under 50 characters
        "ab" * 40,  # long, but 2 different characters
        "django-insecure-" + STRONG_KEY,  # Django's generated development key
    ],
)
def test_a_weak_secret_key_is_refused_when_debug_is_off(key):
    result = run_manage("check", env={"DEBUG": "0", "SECRET_KEY": key, "ALLOWED_HOSTS": "tandem.example.be"})
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is too weak" in result.stderr


def test_encryption_keys_are_required_when_debug_is_off():
    result = run_manage("check", env={"DEBUG": "0", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "tandem.example.be"})
    assert result.returncode != 0
    assert "TANDEM_ENCRYPTION_KEYS must be set when DEBUG is off" in result.stderr
    assert "Fernet.generate_key()" in result.stderr


def test_a_malformed_encryption_key_is_refused_without_being_printed():
    env = {"DEBUG": "0", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "tandem.example.be"}
    result = run_manage("check", env={**env, "TANDEM_ENCRYPTION_KEYS": f"{ENCRYPTION_KEY},not-a-fernet-key-at-all"})
    assert result.returncode != 0
    assert "TANDEM_ENCRYPTION_KEYS: key 2 is not a Fernet key" in result.stderr
    assert "not-a-fernet-key-at-all" not in result.stderr


def test_a_weak_secret_key_is_fine_in_debug():
    result = run_manage("check", env={"DEBUG": "1", "SECRET_KEY": "dev"})
    assert result.returncode == 0, result.stderr


def test_outgoing_requests_are_https_to_public_addresses_when_debug_is_off():
    code = (
        "from django.conf import settings as s; print(s.TANDEM_CHANNEL_HTTP_ALLOWED, s.TANDEM_CHANNEL_ALLOWED_NETWORKS)"
    )
    production = {
        "DEBUG": "0",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "tandem.example.be",
        "TANDEM_ENCRYPTION_KEYS": ENCRYPTION_KEY,
    }
    result = run_manage("shell", "-c", code, env=production)
    assert result.stdout.splitlines()[-1] == "False []", result.stderr
    listed = run_manage("shell", "-c", code, env={**production, "TANDEM_CHANNEL_ALLOWED_NETWORKS": "10.8.0.0/16"})
    assert listed.stdout.splitlines()[-1] == "False ['10.8.0.0/16']", listed.stderr
    # Debug (make run) allows loopback and plain http, so the demo and the fake networks work.
    debug = run_manage("shell", "-c", code, env={"DEBUG": "1"})
    assert debug.stdout.splitlines()[-1] == "True ['127.0.0.0/8', '::1/128']", debug.stderr
    wrong = run_manage("check", env={**production, "TANDEM_CHANNEL_ALLOWED_NETWORKS": "10.8.0.0/33"})
    assert "TANDEM_CHANNEL_ALLOWED_NETWORKS" in wrong.stderr


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    db = tmp_path / "wal.sqlite3"
    code = (
        "from django.db import connection; c = connection.cursor(); "
        "print(c.execute('PRAGMA journal_mode').fetchone()[0], c.execute('PRAGMA busy_timeout').fetchone()[0])"
    )
    result = run_manage("shell", "-c", code, env={"DEBUG": "1", "DATABASE_URL": f"sqlite:///{db}"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["wal", "20000"]
