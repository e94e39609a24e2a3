"""Hot reads of a fixed shape: the ORM writes the statement once, each call binds its value.

Django compiles a queryset to SQL on every evaluation; for a small read that
runs on every request (the roles and permissions of the signed-in user) the
compilation costs more CPU than the round trip. ``OneValueQuery`` asks the
ORM once for the statement of ``build(value)``, finds the value among its
bound parameters and runs the same text with the caller's value: the SQL is
the ORM's own, the value is still a bound parameter, the rows are the
``values_list`` rows the queryset would give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connections, router
from django.db.models import Model, QuerySet

# A value no row id takes, looked for among the compiled parameters.
ID_MARK = -7_311_931_117


class OneValueQuery:
    """``build(value)``'s rows (tuples) from ``model``'s table, compiled by the ORM once.

    ``build`` must return a ``values_list`` queryset whose only parameter is
    ``value`` and whose columns need no conversion from the driver's values
    (both checked when it is compiled, with ``mark``: a value of the
    parameter's type that no row holds). The rows are read on the alias the ORM
    would read ``model`` from (the request's role, in its tenant context).
    """

    def __init__(
        self,
        model: type[Model],
        build: Callable[[Any], QuerySet[Any, Any]],
        *,
        mark: Any = ID_MARK,
    ) -> None:
        self.model = model
        self.build = build
        self.mark = mark
        self._statement: str | None = None

    def _compile(self) -> str:
        queryset = self.build(self.mark)
        compiler = queryset.query.get_compiler(using=queryset.db)
        statement, params = compiler.as_sql()
        if tuple(params) != (self.mark,):
            raise TypeError("the query must take exactly one parameter, the value")
        if compiler.get_converters([column for column, _sql, _alias in compiler.select]):
            raise TypeError("the query's columns need conversion: use the ORM")
        return statement

    def rows(self, value: Any) -> list[tuple[Any, ...]]:
        if self._statement is None:
            self._statement = self._compile()
        with connections[router.db_for_read(self.model)].cursor() as cursor:
            cursor.execute(self._statement, [value])
            return list(cursor.fetchall())
