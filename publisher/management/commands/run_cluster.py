"""``manage.py run_cluster``: django-q2's qcluster under a supervisor that stops cleanly.

See publisher/delivery/supervision.py. Use it instead of ``qcluster`` (the Procfile does); the
cluster is chosen the same way (``Q_CLUSTER_NAME=urgent``).
"""

import signal
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django_q.cluster import Cluster, get_mp_context
from django_q.signals import pre_execute

from publisher.channels import http, registry
from publisher.delivery import supervision

# A sentinel that died or could not start (e.g. Redis down) is started again after this
# long, doubling up to the cap.
RESTART_FIRST_SECONDS = 0.5
RESTART_MAX_SECONDS = 10.0


class Command(BaseCommand):
    help = "Run a django-q2 cluster that stops cleanly and leaves no process behind."

    def handle(self, *args: Any, **options: Any) -> None:
        # Import the adapters and build the TLS context once here: every worker forked below
        # has them, instead of the first publish after a start paying for them past its due time.
        registry.adapter_classes()
        http.warm_up()
        stopping = get_mp_context().Event()
        supervision.supervise_forks(stopping)
        pre_execute.connect(supervision.release_unstarted_publish, dispatch_uid="tandem-release-unstarted")
        asked_to_stop = False

        def stop(signum: int, frame: object) -> None:
            nonlocal asked_to_stop
            asked_to_stop = True

        backoff = RESTART_FIRST_SECONDS
        cluster: Cluster | None = None
        while not asked_to_stop:
            cluster = Cluster()
            # Cluster() installs its own handlers, which would block in a join: ours only flag.
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            try:
                cluster.start()
            except RuntimeError as exc:
                self.stderr.write(f"Cluster did not start ({exc}); trying again in {backoff:.1f} s.")
                cluster = None
                time.sleep(backoff)
                backoff = min(backoff * 2, RESTART_MAX_SECONDS)
                continue
            self.stdout.write(f"Cluster running (sentinel pid {cluster.sentinel.pid}).")
            self.stdout.flush()
            while not asked_to_stop and cluster.sentinel.is_alive():
                cluster.sentinel.join(0.2)
            if asked_to_stop:
                break
            self.stderr.write(f"The sentinel exited ({cluster.sentinel.exitcode}); starting the cluster again.")
            cluster = None
            time.sleep(backoff)
            backoff = min(backoff * 2, RESTART_MAX_SECONDS)
        if cluster is not None and cluster.sentinel.is_alive():
            self._stop(cluster, stopping)
        self.stdout.write("Cluster stopped.")

    def _stop(self, cluster: Cluster, stopping: Any) -> None:
        grace = float(settings.TANDEM_CLUSTER_STOP_SECONDS)
        began = time.monotonic()
        stopping.set()
        cluster.stop_event.set()
        cluster.sentinel.join(grace)
        if cluster.sentinel.is_alive():
            # Its workers, pusher and monitor die with it (PR_SET_PDEATHSIG).
            self.stderr.write(f"Calls still running after {grace:.0f} s: killing the cluster.")
            cluster.sentinel.kill()
            cluster.sentinel.join(5)
        self.stdout.write(f"Stopped in {time.monotonic() - began:.1f} s.")
