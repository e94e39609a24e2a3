"""On Citus, a company's read request runs in one transaction: fewer trips to the worker.

Where the context is a statement of its own (Citus, ``qiro.db.backends.runtime``),
each autocommit statement gets a transaction of its own, and a transaction
that reaches a company's tables costs the coordinator two extra trips to the
worker (its ``BEGIN`` with the context, and its ``COMMIT``) besides the
statement itself. A page sends several such statements (the session, the
user, the page's own reads, the session's touch), so for ``GET`` and
``HEAD`` on a company's host the whole request, from the session middleware
in, runs in one transaction of the runtime alias: the context is sent once,
and the worker sees one ``BEGIN`` and one ``COMMIT``. Figures:
``docs/scaling.md`` (``bench/pages.py``).

Nothing changes elsewhere: on plain PostgreSQL the context rides in front of
each statement in one round trip, and a transaction would add two; the
public host (whose sign-up links run durable transactions) and every other
method keep a transaction per statement or per action. The context itself
is unchanged: ``SET LOCAL``, so it still ends with the transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from qiro.tenant_context import RUNTIME_ALIAS, current_alias, current_context, runtime_connection

READ_METHODS = frozenset({"GET", "HEAD"})


def one_transaction(request: HttpRequest) -> bool:
    """Whether this request runs in one transaction: a company's read, on Citus."""
    if request.method not in READ_METHODS or current_alias() != RUNTIME_ALIAS:
        return False
    if current_context().company_id is None:
        return False
    connection = runtime_connection(RUNTIME_ALIAS)
    connection.ensure_connection()  # open already: the host was just looked up on it
    return bool(connection.context_apart)


class ReadRequestTransactionMiddleware:
    """After ``TenantContextMiddleware``: a company's read request in one transaction on Citus."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not one_transaction(request):
            return self.get_response(request)
        with transaction.atomic(using=RUNTIME_ALIAS):
            return self.get_response(request)
