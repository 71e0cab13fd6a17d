"""Admin pagination that does not count a large table row by row on every page view.

An unfiltered list of a big table (a year of messages) on PostgreSQL takes its total from
the planner's estimate (``pg_class.reltuples``, kept by ANALYZE and autovacuum): exact
``COUNT(*)`` reads every row of an index, so its cost grows with the history while the page
shows the same hundred rows. Filtered lists, small tables and SQLite count exactly.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Below this many rows COUNT(*) costs a few milliseconds at most: the total stays exact.
ESTIMATE_FROM_ROWS = 50_000


def table_count(queryset: QuerySet[Any], *, estimate_from: int) -> int | None:
    """The rows of the queryset's table in one query: PostgreSQL's estimate when it is at least
    ``estimate_from``, else an exact COUNT(*) (run only then). None off PostgreSQL."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    with connection.cursor() as cursor:
        # The uncorrelated sub-select is evaluated only if the CASE needs it; reltuples is -1
        # for a table never analysed, which then counts too. Same query count either way.
        cursor.execute(
            f"SELECT CASE WHEN reltuples >= %s THEN reltuples::bigint ELSE (SELECT count(*) FROM {table}) END "  # noqa: S608
            "FROM pg_class WHERE oid = %s::regclass",
            [estimate_from, queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


class EstimatedCountPaginator(Paginator):
    """The admin's paginator for tables that grow with the history (see the module docstring)."""

    estimate_from_rows = ESTIMATE_FROM_ROWS

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        # Unfiltered (joins for display only: select_related follows non-null keys, no DISTINCT).
        if isinstance(qs, QuerySet) and not qs.query.where and not qs.query.distinct:
            total = table_count(qs, estimate_from=self.estimate_from_rows)
            if total is not None:
                return total
        return int(super().count)
