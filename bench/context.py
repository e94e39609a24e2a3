"""What the per-transaction tenant context costs.

Side by side in one run, interleaved in blocks so that machine noise hits
both sides alike:

* ``SELECT 1`` bare (psycopg directly), through the same Django cursor with
  the context wrapper removed, and through the runtime backend, which sends the
  ``SET LOCAL`` statements as a statement of their own: the last two differ only
  by the context;
* the three ways to send the context in autocommit, on the same psycopg
  connection: prefixed to the statement in one string (the form Citus
  refuses), as its own statement in a transaction (``BEGIN``, context,
  statement, ``COMMIT``: what the backend does), and the same four in
  psycopg's pipeline mode (one round trip);
* a five-statement transaction, where the context is set once;
* a whole request to a company's home page (middleware, host lookup, RLS).

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/context.py [--runs N]
"""

from __future__ import annotations

import argparse

from _common import report, setup_django, summary, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5000)
    args = parser.parse_args()
    setup_django()

    from django.db import connections, transaction
    from django.test import Client

    from qiro import tenant_context
    from tenants.models import Company
    from tenants.services import create_company_with_migrations

    company = Company.objects.using("owner").filter(schema_name="bench_context").first()
    if company is None:
        company = create_company_with_migrations(
            name="Bench", business_registration_number="9999999999",
            schema_name="bench_context", domain="bench-context.localhost",
        )  # fmt: skip

    connection = connections["default"]
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None

    def bare() -> None:
        raw.execute("SELECT 1").fetchone()

    context_wrapper = connection._run_in_context  # type: ignore[attr-defined]

    def django_without_context() -> None:
        # The same connection and Django cursor, minus the context prefix.
        connection.execute_wrappers.remove(context_wrapper)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        finally:
            connection.execute_wrappers.append(context_wrapper)

    def in_context() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def five_in_a_transaction() -> None:
        with transaction.atomic(using="default"), connection.cursor() as cursor:
            for _ in range(5):
                cursor.execute("SELECT 1")
                cursor.fetchone()

    from qiro.db.backends.runtime.base import render_context_sql

    def prefixed_only() -> None:
        cursor = raw.execute(context_sql + "; SELECT 1")
        cursor.nextset()
        cursor.nextset()
        cursor.nextset()
        cursor.fetchone()

    def separate() -> None:
        with raw.transaction():
            raw.execute(context_sql)
            raw.execute("SELECT 1").fetchone()

    def pipelined() -> None:
        with raw.pipeline():
            raw.execute("BEGIN")
            for statement in context_sql.split("; "):
                raw.execute(statement)
            cursor = raw.execute("SELECT 1")
            raw.execute("COMMIT")
        cursor.fetchone()

    client = Client()

    def request() -> None:
        assert client.get("/", HTTP_HOST="bench-context.localhost").status_code == 200

    samples: dict[str, list[float]] = {
        k: [] for k in ("bare", "django", "context", "tx", "request", "prefix", "separate", "pipe")
    }
    block = max(args.runs // 10, 1)
    with tenant_context.company_context(company):
        context_sql = render_context_sql(raw, connection.tenant_context)  # type: ignore[attr-defined]
        for _ in range(10):
            if not connection.context_apart:  # type: ignore[attr-defined]  # Citus refuses it
                samples["prefix"] += timed(prefixed_only, block)
            samples["separate"] += timed(separate, block)
            samples["pipe"] += timed(pipelined, block)
            samples["bare"] += timed(bare, block)
            samples["django"] += timed(django_without_context, block)
            samples["context"] += timed(in_context, block)
            samples["tx"] += timed(five_in_a_transaction, block // 5 or 1)
    for _ in range(10):
        samples["request"] += timed(request, max(block // 10, 1))

    rows = {
        "SELECT 1, bare psycopg": summary(samples["bare"]),
        "SELECT 1, Django cursor, no context": summary(samples["django"]),
        "SELECT 1 with SET LOCAL context": summary(samples["context"]),
        **(
            {"psycopg: context prefixed, one string": summary(samples["prefix"])}
            if samples["prefix"]
            else {}
        ),
        "psycopg: context own statement, BEGIN..COMMIT": summary(samples["separate"]),
        "psycopg: the same four, pipeline mode": summary(samples["pipe"]),
        "5 SELECTs in one transaction": summary(samples["tx"]),
        "GET company home (full request)": summary(samples["request"]),
    }
    extra = {
        "context_cost_p50_ms": round(
            rows["SELECT 1 with SET LOCAL context"]["p50_ms"]
            - rows["SELECT 1, Django cursor, no context"]["p50_ms"],
            4,
        )
    }
    server = "citus" if connection.context_apart else "plain"  # type: ignore[attr-defined]
    report("context" if server == "plain" else "citus/context-citus", rows, extra)


if __name__ == "__main__":
    main()
