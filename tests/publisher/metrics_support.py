"""Read the event-time metrics as a scrape would: summed over every process's files.

The files of a test session accumulate (one folder per session, see tests/settings.py), so
tests compare a value before and after what they do, never an absolute count."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from publisher import metrics


def value(name: str, **labels: str) -> float:
    registry = CollectorRegistry(auto_describe=False)
    metrics.collectors_register(registry)
    return registry.get_sample_value(name, labels) or 0.0


class Delta:
    """`with Delta("x_total", a="b") as d: ...` then `d.value`: how much the sample grew."""

    def __init__(self, name: str, **labels: str) -> None:
        self.name, self.labels = name, labels
        self.value = 0.0

    def __enter__(self) -> Delta:
        self.before = value(self.name, **self.labels)
        return self

    def __exit__(self, *exc: object) -> None:
        self.value = value(self.name, **self.labels) - self.before
