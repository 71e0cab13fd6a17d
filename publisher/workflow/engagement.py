"""What the message page shows of a message's engagement: each language's and network's
latest figures, side by side (FR vs NL of the same message), as a table and as bars."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from publisher.models import EngagementSnapshot, Message

METRICS = {
    "likes": _("Likes"),
    "reposts": _("Reposts"),
    "replies": _("Replies"),
    "quotes": _("Quotes"),
    "views": _("Views"),
    "reach": _("Reach"),
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
    # None: no network of this language gives the figure (shown "—", never drawn as 0).
    value: int | None
    percent: int


@dataclass
class ChartRow:
    metric: str
    label: str
    bars: list[Bar]
    network: str = ""


@dataclass
class Engagement:
    rows: list[EngagementRow] = field(default_factory=list)
    chart: list[ChartRow] = field(default_factory=list)
    metrics: list[tuple[str, str]] = field(default_factory=list)
    # The same figures per network and metric, FR vs NL side by side (the home page's chart).
    by_network: list[ChartRow] = field(default_factory=list)
    posts: int = 0


def _bars(grouped: dict[tuple[str, str], dict[str, int]], metric: str, languages: list[str], network: str) -> list[Bar]:
    """Each language's total of ``metric`` (on ``network``, or all networks when empty); a
    language none of whose posts has the figure gets no bar."""
    totals: dict[str, int | None] = {}
    for language in languages:
        given = [
            figures[metric]
            for (lang, net), figures in grouped.items()
            if lang == language and (not network or net == network) and metric in figures
        ]
        totals[language] = sum(given) if given else None
    top = max((v for v in totals.values() if v is not None), default=0) or 1
    return [
        Bar(language, value, 0 if value is None else round(100 * value / top)) for language, value in totals.items()
    ]


def engagement_of(snapshots: Iterable[EngagementSnapshot]) -> Engagement:
    """The latest of the given snapshots per post (ordered by delivery and checkpoint, with
    ``delivery__channel``), summed per language and network: a table and bars."""
    latest: dict[int, EngagementSnapshot] = {}
    for snapshot in snapshots:
        latest[snapshot.delivery_id] = snapshot
    grouped: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    checkpoints: dict[tuple[str, str], int] = {}
    for snapshot in latest.values():
        key = (snapshot.delivery.language, snapshot.delivery.channel.kind)
        sums = grouped[key]  # a post without any figure still has its row
        for name, value in snapshot.figures.items():
            if name in METRICS and value is not None:
                sums[name] += int(value)
        checkpoints[key] = min(checkpoints.get(key, snapshot.checkpoint), snapshot.checkpoint)
    result = Engagement(posts=len(latest))
    present = [m for m in METRICS if any(m in figures for figures in grouped.values())]
    result.metrics = [(m, str(METRICS[m])) for m in present]
    for (language, network), figures in sorted(grouped.items()):
        label = str(CHECKPOINT_LABELS.get(checkpoints[(language, network)], ""))
        values: list[int | str] = [figures[m] if m in figures else "—" for m in present]
        result.rows.append(EngagementRow(language, network, label, dict(figures), values))
    languages = sorted({language for language, _network in grouped})
    for metric in present:
        result.chart.append(ChartRow(metric, str(METRICS[metric]), _bars(grouped, metric, languages, "")))
    for network in sorted({network for _language, network in grouped}):
        for metric in present:
            if any(metric in f for (_lg, net), f in grouped.items() if net == network):
                bars = _bars(grouped, metric, languages, network)
                result.by_network.append(ChartRow(metric, str(METRICS[metric]), bars, network))
    return result


def message_engagement(message: Message) -> Engagement:
    """The latest snapshot of each of the message's posts, summed per language and network. One query."""
    snapshots = EngagementSnapshot.objects.filter(delivery__occurrence__message=message).select_related(
        "delivery__channel"
    )
    return engagement_of(snapshots.order_by("delivery_id", "checkpoint"))


HOME_DAYS = 7


def my_recent_engagement(*, user: User, now: datetime | None = None, days: int = HOME_DAYS) -> Engagement:
    """The home page's figures: the posts of the user's messages sent in the last ``days``
    days, their latest figures per language and network. One query whatever their number."""
    now = now or timezone.now()
    snapshots = EngagementSnapshot.objects.filter(
        delivery__occurrence__message__author=user, delivery__sent_at__gte=now - timedelta(days=days)
    ).select_related("delivery__channel")
    return engagement_of(snapshots.order_by("delivery_id", "checkpoint"))


# --- the monthly report -----------------------------------------------------------------------

BRUSSELS = ZoneInfo("Europe/Brussels")
TOP_SIZE = 10


@dataclass
class TopMessage:
    message_id: int
    title: str
    by_language: dict[str, int]
    total: int


@dataclass
class MonthReport:
    month: date
    top: list[TopMessage] = field(default_factory=list)
    # (language, interactions, percent of all)
    share: list[tuple[str, int, int]] = field(default_factory=list)
    # (hour in Brussels, posts sent, interactions per post, percent of the best hour)
    hours: list[tuple[int, int, float, int]] = field(default_factory=list)
    posts: int = 0


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=BRUSSELS)
    following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=BRUSSELS)
    return start, following


def monthly_report(*, month: date) -> MonthReport:
    """Posts sent in ``month`` (Brussels): their latest figures, summed (every figure counts as
    one interaction): the top messages with FR and NL side by side, each language's share, and
    the hours of sending that drew the most per post."""
    start, end = month_bounds(month)
    latest: dict[int, EngagementSnapshot] = {}
    snapshots = EngagementSnapshot.objects.filter(
        delivery__sent_at__gte=start, delivery__sent_at__lt=end
    ).select_related("delivery__occurrence__message")
    for snapshot in snapshots.order_by("delivery_id", "checkpoint"):
        latest[snapshot.delivery_id] = snapshot
    report = MonthReport(month=month, posts=len(latest))
    messages: dict[int, TopMessage] = {}
    languages: dict[str, int] = defaultdict(int)
    hours: dict[int, list[int]] = defaultdict(list)
    for snapshot in latest.values():
        delivery = snapshot.delivery
        total = sum(int(v) for k, v in snapshot.figures.items() if k in METRICS)
        message = delivery.occurrence.message
        row = messages.setdefault(message.pk, TopMessage(message.pk, message.title, defaultdict(int), 0))
        row.by_language[delivery.language] += total
        row.total += total
        languages[delivery.language] += total
        if delivery.sent_at is not None:  # always, for a sent post in the month
            hours[delivery.sent_at.astimezone(BRUSSELS).hour].append(total)
    report.top = sorted(messages.values(), key=lambda m: (-m.total, m.message_id))[:TOP_SIZE]
    for row in report.top:
        row.by_language = dict(row.by_language)
    everything = sum(languages.values()) or 1
    report.share = [(lang, n, round(100 * n / everything)) for lang, n in sorted(languages.items())]
    averages = {hour: sum(values) / len(values) for hour, values in hours.items()}
    best = max(averages.values(), default=0) or 1
    report.hours = [
        (hour, len(hours[hour]), round(averages[hour], 1), round(100 * averages[hour] / best))
        for hour in sorted(averages)
    ]
    return report


def monthly_report_csv(report: MonthReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "title", "fr", "nl", "de", "total"])
    for row in report.top:
        writer.writerow(
            [
                "top",
                row.message_id,
                _csv_text(row.title),
                *(row.by_language.get(lang, 0) for lang in ("fr", "nl", "de")),
                row.total,
            ]
        )
    for language, interactions, percent in report.share:
        writer.writerow(["share", language, f"{percent}%", "", "", "", interactions])
    for hour, posts, per_post, _percent in report.hours:
        writer.writerow(["hour", f"{hour:02d}:00", f"{posts} posts", "", "", "", per_post])
    return out.getvalue()


def _csv_text(value: str) -> str:
    # A title starting with = + - @ would be a formula to a spreadsheet.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
