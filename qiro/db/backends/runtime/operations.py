"""What Django shows of a runtime statement: the statement as written.

The runtime backend sends the ``SET LOCAL`` context in front of a statement
(``base.py``). ``connection.queries``, the ``django.db.backends`` log and
``CaptureQueriesContext`` all read ``last_executed_query``; it leaves that
prefix out, so what a developer or a query-count test sees is the query the
code wrote, as on any other Django backend.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import operations as postgresql_operations


class DatabaseOperations(postgresql_operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        shown = super().last_executed_query(cursor, sql, params)
        # Set by the backend for the statement just run: the exact text it
        # prepended, or None when it sent the statement as it was.
        prefix = getattr(self.connection, "context_prefix_sent", None)
        if shown is not None and prefix and shown.startswith(prefix):
            return shown[len(prefix) :]
        return shown
