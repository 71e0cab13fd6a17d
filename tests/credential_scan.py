"""A whole-run check (issue 14): no credential any test stores is found in clear in the logs
of the whole test run.

Every credential Tandem keeps goes through ``publisher.channels.credentials.encrypt`` (a
channel's tokens and passwords, an OAuth app's client secret, a pending sign-in's PKCE
verifier): the plugin notes the secret values passed to it, keeps every log record of the
run in a file, and at the end of the session fails the run if one of those values is in it.
tests/api/test_credentials_in_clear.py does the same for one scenario, with the database
dump and the API's answers too; this one covers whatever every other test makes the code log.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

# Keys whose values are secrets (the other keys of a credential say who or where).
SECRET_WORDS = ("secret", "token", "password", "refresh", "verifier", "access", "key", "jwt")
# Shorter values could be found by chance ("1", "abc").
MIN_LENGTH = 8

_values: set[str] = set()
_handler: logging.Handler | None = None
_path = ""


def secret_values(data: Any, key: str = "") -> Iterable[str]:
    """The strings under secret-looking keys, however deep (a Page list holds Page tokens)."""
    if isinstance(data, Mapping):
        for name, value in data.items():
            yield from secret_values(value, str(name))
    elif isinstance(data, list | tuple):
        for value in data:
            yield from secret_values(value, key)
    elif isinstance(data, str) and len(data) >= MIN_LENGTH and any(w in key.lower() for w in SECRET_WORDS):
        yield data


def leaks(text: str, values: Iterable[str]) -> list[str]:
    """The values found in ``text``, each shown by its first characters only."""
    return sorted(f"{value[:4]}… ({len(value)} characters)" for value in set(values) if value in text)


def _attach() -> None:
    # A test that reconfigures logging (LOG_FORMAT=json) drops the root's handlers: put it back.
    root = logging.getLogger()
    if _handler is not None and _handler not in root.handlers:
        root.addHandler(_handler)


def pytest_sessionstart(session: pytest.Session) -> None:
    global _handler, _path
    from publisher.channels import credentials

    original = credentials.encrypt

    def encrypt(secrets: Mapping[str, Any]) -> str:
        _values.update(secret_values(secrets))
        return original(secrets)

    credentials.encrypt = encrypt  # type: ignore[assignment]
    fd, _path = tempfile.mkstemp(prefix="tandem-test-logs-", suffix=".log")
    os.close(fd)
    _handler = logging.FileHandler(_path, encoding="utf-8")
    _handler.setLevel(logging.DEBUG)
    _handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    _attach()


def pytest_runtest_setup(item: pytest.Item) -> None:
    _attach()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _handler is None:
        return
    _handler.close()
    logging.getLogger().removeHandler(_handler)
    with open(_path, encoding="utf-8", errors="replace") as log:
        found = leaks(log.read(), _values)
    os.unlink(_path)
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"Credentials found in clear in the logs of this run: {', '.join(found)}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def values_noted() -> frozenset[str]:
    return frozenset(_values)
