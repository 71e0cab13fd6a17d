"""What the message page shows of a message's engagement: each language's and network's
latest figures, side by side (FR vs NL of the same message), as a table and as bars."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from publisher.models import EngagementSnapshot, Message

METRICS = {
    "likes": _("Likes"),
    "reposts": _("Reposts"),
    "replies": _("Replies"),
    "quotes": _("Quotes"),
    "views": _("Views"),
}
CHECKPOINT_LABELS = {3600: _("1 h"), 6 * 3600: _("6 h"), 24 * 3600: _("24 h"), 7 * 24 * 3600: _("7 d")}


@dataclass
class EngagementRow:
    language: str
    network: str
    checkpoint: str
    figures: dict[str, int]
    values: list[int | str] = field(default_factory=list)  # in the order of Engagement.metrics


@dataclass
class Bar:
    language: str
    value: int
    percent: int


@dataclass
class ChartRow:
    metric: str
    label: str
    bars: list[Bar]


@dataclass
class Engagement:
    rows: list[EngagementRow] = field(default_factory=list)
    chart: list[ChartRow] = field(default_factory=list)
    metrics: list[tuple[str, str]] = field(default_factory=list)


def message_engagement(message: Message) -> Engagement:
    """The latest snapshot of each of the message's posts, summed per language and network."""
    latest: dict[int, EngagementSnapshot] = {}
    snapshots = EngagementSnapshot.objects.filter(delivery__occurrence__message=message).select_related(
        "delivery__channel"
    )
    for snapshot in snapshots.order_by("delivery_id", "checkpoint"):
        latest[snapshot.delivery_id] = snapshot
    grouped: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    checkpoints: dict[tuple[str, str], int] = {}
    for snapshot in latest.values():
        key = (snapshot.delivery.language, snapshot.delivery.channel.kind)
        for name, value in snapshot.figures.items():
            if name in METRICS:
                grouped[key][name] += int(value)
        checkpoints[key] = min(checkpoints.get(key, snapshot.checkpoint), snapshot.checkpoint)
    result = Engagement()
    present = [m for m in METRICS if any(m in figures for figures in grouped.values())]
    result.metrics = [(m, str(METRICS[m])) for m in present]
    for (language, network), figures in sorted(grouped.items()):
        label = str(CHECKPOINT_LABELS.get(checkpoints[(language, network)], ""))
        values: list[int | str] = [figures[m] if m in figures else "—" for m in present]
        result.rows.append(EngagementRow(language, network, label, dict(figures), values))
    languages = sorted({language for language, _network in grouped})
    for metric in present:
        totals = {lang: sum(f.get(metric, 0) for (lg, _n), f in grouped.items() if lg == lang) for lang in languages}
        top = max(totals.values()) or 1
        bars = [Bar(lang, totals[lang], round(100 * totals[lang] / top)) for lang in languages]
        result.chart.append(ChartRow(metric, str(METRICS[metric]), bars))
    return result
