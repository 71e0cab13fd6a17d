"""Where a worker's time goes per delivery: one publish task, profiled in-process.

Usage (PostgreSQL + Redis, your own database and Redis db):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> REDIS_URL=redis://127.0.0.1:6379/<n> \\
        .venv/bin/python bench/profile_publish.py [-n 2000] [--top 20]

Makes N queued deliveries due now on the in-process fake adapter (one message, N channels,
as a burst hands them to a worker), runs ``publishing.deliveries_publish`` on them once under
cProfile, and prints the milliseconds per delivery of each phase the task goes through:
taking the rows, rendering the posts, opening the attempts, recording the outcomes. Then the
functions with the most time of their own. This is the profile issue 16 asked for ("find
where the time goes"), kept so the next change to the hot path can be measured the same way.
The network calls run in the sender's threads, which cProfile does not follow: the fake
adapter's calls cost microseconds, so the main thread's phases are the task's cost.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._support import django_setup  # noqa: E402

# The task's phases, by the function that does each (publisher/delivery/publishing.py).
PHASES = {
    "take the rows (_deliveries_take)": "_deliveries_take",
    "render the posts (_calls_prepare)": "_calls_prepare",
    "open the attempts (_deliveries_start)": "_deliveries_start",
    "record the outcomes (_outcomes_record)": "_outcomes_record",
}


def deliveries_make(n: int, folder: Path) -> list[int]:
    from django.utils import timezone

    from accounts.models import User
    from publisher.models import Channel, Delivery, DeliveryState, Message, MessageState, Occurrence, Variant

    author, _ = User.objects.get_or_create(username="bench-author")
    due_at = timezone.now()
    channels = Channel.objects.bulk_create(
        [
            Channel(name=f"profile {i}", kind="fake", language="fr", covers_all=True, config={"dir": str(folder)})
            for i in range(n)
        ]
    )
    message = Message.objects.create(title="profile", author=author, state=MessageState.SCHEDULED, publish_at=due_at)
    Variant.objects.create(message=message, language="fr", text="Bonjour, ceci est un test de profil.")
    occurrence = Occurrence.objects.create(message=message, due_at=due_at)
    rows = Delivery.objects.bulk_create(
        [
            Delivery(
                occurrence=occurrence,
                channel=c,
                language="fr",
                due_at=due_at,
                next_attempt_at=due_at,
                state=DeliveryState.QUEUED,
            )
            for c in channels
        ],
        batch_size=1000,
    )
    return [d.pk for d in rows]


def cleanup() -> None:
    from publisher.models import Channel, Message

    Message.objects.filter(title="profile").delete()
    Channel.objects.filter(name__startswith="profile ").delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="deliveries in the task (default 2,000)")
    parser.add_argument("--top", type=int, default=20, help="functions listed by own time (default 20)")
    args = parser.parse_args()
    django_setup()
    from publisher.delivery import publishing
    from publisher.models import Delivery, DeliveryState

    cleanup()
    with tempfile.TemporaryDirectory(prefix="tandem-profile-") as work:
        ids = deliveries_make(args.n, Path(work))
        profiler = cProfile.Profile()
        began = time.perf_counter()
        profiler.enable()
        counts = publishing.deliveries_publish(delivery_ids=ids)
        profiler.disable()
        elapsed = time.perf_counter() - began
        sent = Delivery.objects.filter(pk__in=ids, state=DeliveryState.SENT).count()
        cleanup()

    stats = pstats.Stats(profiler)
    # cumulative seconds of each phase's function (summed over its calls)
    cumulative: dict[str, float] = {}
    for (_file, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        cumulative[name] = cumulative.get(name, 0.0) + ct
    print(f"{args.n:,} deliveries in one task: {counts}, {sent:,} sent, {elapsed * 1000:.0f} ms in all")
    print("(profiled: cProfile slows Python code down, so compare phases, not totals, with bench/lateness.py)")
    print()
    print(f"{'phase':<42} {'ms in all':>10} {'ms / delivery':>14}")
    for label, name in PHASES.items():
        seconds = cumulative.get(name, 0.0)
        print(f"{label:<42} {seconds * 1000:>10.1f} {seconds * 1000 / args.n:>14.3f}")
    print(f"{'whole task':<42} {elapsed * 1000:>10.1f} {elapsed * 1000 / args.n:>14.3f}")
    print()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
