"""The import contracts in pyproject.toml (run by `make lint`) hold for the tree, and they bite:
the same contracts fail on a copy of publisher/ given one upward import, one adapter importing
another, django_q outside the queue modules, or a module outside every layer."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300, check=False
    )


def _edit(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert old in source, f"{path.name} changed: update this test's edit"
    path.write_text(source.replace(old, new, 1))


def test_the_tree_keeps_every_contract():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def _dispatcher_imports_the_workflow(root: Path) -> None:
    # Undo one callback: the dispatcher expires messages by calling the workflow directly
    # instead of through the hook apps.py registers.
    registration = "        hooks.unapproved_expire_register(services.messages_expire_unapproved)\n"
    _edit(root / "publisher/apps.py", registration, "")
    dispatch = root / "publisher/delivery/dispatch.py"
    _edit(dispatch, "hooks.unapproved_expire.call(now=", "services.messages_expire_unapproved(now=")
    upward = "from publisher.workflow import services\n"
    _edit(dispatch, "from publisher.models import", upward + "from publisher.models import")


def _instagram_imports_facebook(root: Path) -> None:
    _edit(
        root / "publisher/channels/instagram.py",
        "from publisher.channels.graph import graph_error",
        "from publisher.channels.facebook import graph_error",
    )


def _publishing_enqueues_itself(root: Path) -> None:
    _edit(
        root / "publisher/delivery/publishing.py",
        "from publisher.models import",
        "from django_q.tasks import async_task  # noqa: F401\nfrom publisher.models import",
    )


def _a_module_without_a_layer(root: Path) -> None:
    (root / "publisher/boost.py").write_text("from publisher.models import Message  # noqa: F401\n")


@pytest.mark.parametrize(
    ("change", "broken"),
    [
        (_dispatcher_imports_the_workflow, "publisher.delivery.dispatch -> publisher.workflow.services"),
        (_instagram_imports_facebook, "publisher.channels.instagram -> publisher.channels.facebook"),
        (_publishing_enqueues_itself, "publisher.delivery.publishing -> django_q (l."),
        (_a_module_without_a_layer, "publisher.boost"),
    ],
    ids=["upward-import", "adapter-to-adapter", "django-q-outside-queue", "module-without-layer"],
)
def test_the_contracts_fail_a_tree_that_breaks_them(tmp_path, change, broken):
    shutil.copytree(
        ROOT / "publisher",
        tmp_path / "publisher",
        ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "data", "locale"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _lint(tmp_path).returncode == 0  # the copy itself is sound
    change(tmp_path)
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in result.stdout
