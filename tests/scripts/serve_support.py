"""Start and stop real service processes for the process tests of `make serve` and `make run`.

Everything listens on free ports on 127.0.0.1; each test gives its instance its own database
and its own var folders, and stops what it started by its own process ids."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx

from tests.processes import family

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())


def base_env(**extra: str) -> dict[str, str]:
    """This process's environment without what the test run put there for itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_SETTINGS_MODULE"))}
    env.update(extra)
    return env


def start(args: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A command in its own session (as a supervisor starts it), its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own scripts
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie has stopped; only its parent has not reaped it)."""
    running = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                    running.add(pid)
        except OSError:
            continue
    return running


def stop(proc: subprocess.Popen[bytes], *, within: float) -> tuple[float, set[int]]:
    """SIGTERM to `proc` alone, as a supervisor sends it: seconds until it and every process
    below it had ended, and those still alive after `within` seconds (then killed)."""
    everyone = family(proc.pid)
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    ended = wait_until(lambda: proc.poll() is not None and not alive(everyone), timeout=within, every=0.05)
    took = time.monotonic() - began
    left = alive(everyone)
    if not ended:
        kill(proc, everyone)
    return took, left


def kill(proc: subprocess.Popen[bytes], pids: set[int] | None = None) -> None:
    """End `proc`, its session and any process below it that left it (cleanup after a failure)."""
    targets = (pids or set()) | family(proc.pid)
    for target in alive(targets):
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


class Browser:
    """An HTTP client standing behind the TLS proxy: it says the request came over https, so
    it also keeps the Secure cookies itself (a cookie jar would not send them over http)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies: dict[str, str] = {}
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Forwarded-Proto": "https", **kwargs.pop("headers", {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(method, path, headers=headers, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post_form(self, path: str, data: dict[str, str]) -> httpx.Response:
        """A form post as the browser makes it: the page's CSRF token, the https origin."""
        page = self.get(path)
        assert page.status_code == 200, (path, page.status_code)
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert found, f"no CSRF token on {path}"
        origin = self.base_url.replace("http://", "https://", 1)
        return self.request(
            "POST",
            path,
            data={"csrfmiddlewaretoken": found.group(1), **data},
            headers={"Origin": origin, "Referer": f"{origin}{path}"},
        )
