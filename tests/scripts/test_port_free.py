"""scripts/port_free.py: `make run` says in one line that its port is taken, before starting."""

import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "port_free.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=30)


def test_a_free_port_passes_silently():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("127.0.0.1", str(port))
    assert result.returncode == 0
    assert result.stdout == ""


def test_a_taken_port_is_one_clear_line_naming_another():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("127.0.0.1", str(port))
    assert result.returncode == 1
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1
    assert f"127.0.0.1:{port}" in result.stdout
    assert f"make run PORT={port + 1}" in result.stdout


def test_a_port_that_is_not_a_number_is_refused():
    result = run("127.0.0.1", "eighty")
    assert result.returncode == 1
    assert "PORT must be a number" in result.stdout
