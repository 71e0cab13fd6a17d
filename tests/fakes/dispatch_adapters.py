"""Fake channel adapters for the dispatch engine's tests and benchmarks.

Registered through settings.TANDEM_CHANNEL_ADAPTERS (see ADAPTERS). Behaviour comes from
the channel's config, so worker processes started by a test behave like the test wants:

- ``dir``: record every call and every post as files under this folder (shared between
  processes). Without it, calls are kept in memory (``FakeAdapter.calls`` / ``posts``).
- ``latency``: seconds each call takes (a slow network).
- ``fail_rate`` + ``seed``: that share of calls fails with 503, 429 + Retry-After, or a
  timeout after the request was received.
- ``raise``: always fail with "transient", "rate_limited", "permanent", "auth", "unknown".
- ``hang_once``: the first call records the post, then hangs (the test kills the worker).
- ``url``: the network's host (calls to one host share a concurrency bound); in memory,
  ``FakeAdapter.peak`` keeps the most calls seen at once per network.

``FakeAdapter`` honours the idempotency key (a repeated key returns the first post);
``FakeNoKeyAdapter`` does not (a repeat is a duplicate post).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

from publisher.channels.base import (
    AuthError,
    ChannelAdapter,
    PermanentError,
    Post,
    Problem,
    RateLimited,
    Receipt,
    TransientError,
    UnknownOutcome,
)

ADAPTERS = {
    "fake": "tests.fakes.dispatch_adapters.FakeAdapter",
    "fake-nokey": "tests.fakes.dispatch_adapters.FakeNoKeyAdapter",
}


class FakeAdapter(ChannelAdapter):
    kind = "fake"
    supports_idempotency = True
    supports_replies = True
    supports_retract = True

    lock: ClassVar[threading.Lock] = threading.Lock()
    calls: ClassVar[list[dict[str, Any]]] = []
    posts: ClassVar[dict[str, dict[str, Any]]] = {}
    retracted: ClassVar[list[str]] = []
    in_flight: ClassVar[dict[str, int]] = {}
    peak: ClassVar[dict[str, int]] = {}

    @classmethod
    def reset(cls) -> None:
        with cls.lock:
            cls.calls.clear()
            cls.posts.clear()
            cls.retracted.clear()
            cls.in_flight.clear()
            cls.peak.clear()

    def check(self, post: Post) -> list[Problem]:
        if len(post.text) > 500:
            return [Problem(code="text_too_long", message="too long")]
        return []

    @property
    def config(self) -> dict[str, Any]:
        return self.channel.config or {}

    def _folder(self) -> Path | None:
        folder = self.config.get("dir")
        return Path(folder) if folder else None

    def _record_call(self, post: Post, key: str, at: float) -> None:
        folder = self._folder()
        if folder is None:
            with self.lock:
                self.calls.append({"delivery_id": post.delivery_id, "key": key, "at": at, "post": post})
            return
        # O_APPEND writes of one short line are atomic between processes.
        fd = os.open(folder / "calls.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{post.delivery_id} {key} {at:.6f}\n".encode())
        finally:
            os.close(fd)

    def _store_post(self, post: Post, key: str) -> tuple[Receipt, bool]:
        """Store the post; returns (receipt, created). A known key returns the first post."""
        name = key if self.supports_idempotency else f"{key}-{uuid.uuid4().hex[:8]}"
        receipt = Receipt(remote_id=f"remote-{name}", url=f"https://fake.invalid/{name}")
        folder = self._folder()
        if folder is None:
            with self.lock:
                if name in self.posts:
                    return receipt, False
                self.posts[name] = {"delivery_id": post.delivery_id, "text": post.text, "post": post}
            return receipt, True
        (folder / "posts").mkdir(exist_ok=True)
        try:
            fd = os.open(folder / "posts" / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return receipt, False
        os.write(fd, f"{post.delivery_id}\n".encode())
        os.close(fd)
        return receipt, True

    def _hang_first_time(self) -> bool:
        folder = self._folder()
        if not self.config.get("hang_once") or folder is None:
            return False
        try:
            fd = os.open(folder / "hung", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        # The test kills this process: tell it which one.
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        network = self.network()
        with self.lock:
            self.in_flight[network] = self.in_flight.get(network, 0) + 1
            self.peak[network] = max(self.peak.get(network, 0), self.in_flight[network])
        try:
            return self._publish(post, idempotency_key)
        finally:
            with self.lock:
                self.in_flight[network] -= 1

    def _publish(self, post: Post, idempotency_key: str) -> Receipt:
        at = time.time()
        self._record_call(post, idempotency_key, at)
        latency = float(self.config.get("latency", 0))
        if latency:
            time.sleep(latency)
        failure = self.config.get("raise", "")
        if not failure and self.config.get("fail_rate"):
            rng = random.Random(f"{self.config.get('seed', 0)}-{idempotency_key}-{at}")  # noqa: S311
            if rng.random() < float(self.config["fail_rate"]):
                failure = rng.choice(["transient", "rate_limited", "unknown"])
        if failure == "transient":
            raise TransientError("503 Service Unavailable", status=503)
        if failure == "rate_limited":
            raise RateLimited("429 Too Many Requests", status=429, retry_after=2.0)
        if failure == "permanent":
            raise PermanentError("422 Status is a duplicate", status=422)
        if failure == "auth":
            raise AuthError("401 The access token expired", status=401)
        receipt, _created = self._store_post(post, idempotency_key)
        if failure == "unknown":
            # Timeout after the network received the request: the post may exist.
            raise UnknownOutcome("Read timed out after 10 s")
        if self._hang_first_time():
            time.sleep(3600)
        return receipt

    def retract(self, receipt: Receipt) -> None:
        if self.config.get("retract") == "refuse":
            raise PermanentError("403 This post can no longer be deleted")
        with self.lock:
            self.retracted.append(receipt.remote_id)


class FakeNoKeyAdapter(FakeAdapter):
    kind = "fake-nokey"
    supports_idempotency = False


def posts_in(folder: Path) -> list[str]:
    """Posts a file-backed fake holds, one entry per post (the delivery id)."""
    target = folder / "posts"
    if not target.exists():
        return []
    return [p.read_text().strip() for p in sorted(target.iterdir())]


def calls_in(folder: Path) -> list[tuple[int, str, float]]:
    log = folder / "calls.log"
    if not log.exists():
        return []
    rows = []
    for line in log.read_text().splitlines():
        delivery_id, key, at = line.split()
        rows.append((int(delivery_id), key, float(at)))
    return rows
