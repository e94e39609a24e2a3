"""An archive's table of contents (``pg_restore --list``), read by namespace.

A restore sends the shared entries first, each company schema's own entries
whole in one job, and the default privileges last (``deployments.scratch_restore``).
"""

from __future__ import annotations

import re

# "<dump id>; <catalog oid> <object oid> <KIND, upper-case words> <schema> <name> <owner>"
# Schema names here are lower-case (companies' sub-domains, pool names), so the
# first word that is not all upper-case is the schema ("-" for none).
TOC_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:[A-Z]+ )+(?P<schema>\S+) ")
DEFAULT_ACL = re.compile(r"^\d+; \d+ \d+ DEFAULT ACL ")
# Entries whose namespace is one of these are never a company schema's own.
SHARED_NAMESPACES = {"-", "public", "pg_catalog"}


def schema_of(line: str) -> str | None:
    """The namespace of a ``pg_restore --list`` line, or None for a comment."""
    found = TOC_ENTRY.match(line)
    return found["schema"] if found else None


def split_listing(
    listing: str, schemas: set[str] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """(shared entries, company-schema entries, last entries) of a listing.

    Company entries are those of a namespace in ``schemas`` (every namespace
    outside ``SHARED_NAMESPACES`` when None); the rest, comments aside, are
    shared, but for the default privileges (``ALTER DEFAULT PRIVILEGES``),
    which come last, as in one ``pg_restore``: tables created after them
    would receive them too.
    """
    shared: list[str] = []
    own: list[str] = []
    last: list[str] = []
    for line in listing.splitlines():
        schema = schema_of(line)
        if schema is None:
            continue
        if schema in schemas if schemas is not None else schema not in SHARED_NAMESPACES:
            own.append(line)
        elif DEFAULT_ACL.match(line):
            last.append(line)
        else:
            shared.append(line)
    return shared, own, last


def deal_out(entries: list[str], jobs: int) -> list[list[str]]:
    """The entries in ``jobs`` lists, each schema whole in one list, in archive order."""
    order: dict[str, int] = {}
    for line in entries:
        order.setdefault(str(schema_of(line)), len(order))
    lists: list[list[str]] = [[] for _ in range(max(1, jobs))]
    for line in entries:
        lists[order[str(schema_of(line))] % len(lists)].append(line)
    return [chosen for chosen in lists if chosen]
