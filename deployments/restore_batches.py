"""Company schemas restored from the archive's own SQL, hundreds of entries a query.

The entries of a thousand company schemas are catalog work: about 170 a
company (tables, identity sequences, indexes, constraints, policies, grants,
comments), each a few milliseconds of the server's time. ``pg_restore``
sends them one by one and waits for each (its data entries commit one by
one too), so on a loaded machine each of those round trips also waits for a
CPU. Here each job (its share of the schemas, each schema whole) goes:

1. **pre-data**: ``pg_restore --section=pre-data --use-list --file=-`` writes
   the SQL of the job's entries (the archive's own text, as a text restore
   feeds it to ``psql``); it is cut at its entries' headers into batches of
   ``BATCH_ENTRIES`` entries, each sent as one query, so one transaction;
2. **data**: the rows of the tables that hold any, by one ``pg_restore
   --section=data --use-list`` (the rows stay ``pg_restore``'s: no row text is
   ever cut or read here). A table the backup counted empty, in the dump's
   own snapshot, has nothing to load, and its entry is left out;
3. **post-data**: as pre-data (indexes, constraints, triggers, policies).

The jobs run at once, each on its own connection, and never wait for one
another: a company schema depends on ``public`` only. The text is run as it
is; if it holds a ``psql`` meta-command other than ``pg_restore``'s own
``\\restrict`` guard (which only ``psql`` could run), that job's entries are
restored by ``pg_restore`` itself instead, entry by entry.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from qiro.db import pg

# Entries a query (and a transaction): a few hundred round trips for a thousand
# companies, and a lock table of ~100 relations a batch, which any server holds.
BATCH_ENTRIES = 250
# The header pg_restore writes before each entry of a text restore.
HEADER = re.compile(
    r"^--\n-- (?:Data for )?Name: [^\n]*; Type: [^\n]*; Schema: [^\n]*; Owner: [^\n]*\n--\n",
    re.MULTILINE,
)
# pg_restore's guard around a text restore: meaningful to psql only, and random.
RESTRICT = re.compile(r"^\\(?:un)?restrict [A-Za-z0-9]+\n", re.MULTILINE)
DESCRIPTION = re.compile(r"^\d+; \d+ \d+ (?P<kind>(?:[A-Z]+ )+)(?P<schema>\S+) (?P<rest>.*)$")


class MetaCommand(ValueError):
    """The SQL holds a line that only psql understands; it is not sent as it is."""


def entry_kind(line: str) -> str:
    found = DESCRIPTION.match(line)
    return found["kind"].strip() if found else ""


def data_table(line: str) -> str | None:
    """``schema.table`` of a TABLE DATA entry of a listing, None for any other entry."""
    found = DESCRIPTION.match(line)
    if found is None or found["kind"] != "TABLE DATA ":
        return None
    table = found["rest"].rsplit(" ", 1)[0]  # the owner is the last word
    return f"{found['schema']}.{table}"


def batches(text: str, per_batch: int = BATCH_ENTRIES) -> tuple[str, list[str]]:
    """(the preamble of settings, the entries in queries of ``per_batch`` entries each).

    Raises ``MetaCommand`` if a line of the SQL begins with a backslash once
    pg_restore's own ``\\restrict``/``\\unrestrict`` lines are taken out.
    """
    text = RESTRICT.sub("", text)
    if re.search(r"^\\", text, re.MULTILINE):
        raise MetaCommand(text[:200])
    starts = [found.start() for found in HEADER.finditer(text)]
    if not starts:
        return text, []
    cuts = [*starts[::per_batch], len(text)]
    return text[: starts[0]], [text[a:b] for a, b in itertools.pairwise(cuts)]


class SectionText:
    """The SQL of listed entries of one section, written by ``pg_restore`` in the background."""

    def __init__(self, tool: pg.Tool, path: Path, listed: Path, section: str) -> None:
        self.file = listed.with_suffix(f".{section}.sql")
        self.errors = listed.with_suffix(f".{section}.err")
        args = [f"--section={section}", f"--use-list={listed}", f"--file={self.file}", str(path)]
        with self.errors.open("w") as errors:
            self.process = subprocess.Popen(  # noqa: S603 - fixed program, arguments built here
                [str(tool.path), *args], stdout=subprocess.DEVNULL, stderr=errors,
                env=pg.client_env(), text=True,
            )  # fmt: skip

    def batches(self) -> tuple[str, list[str]]:
        if self.process.wait() != 0:
            message = self.errors.read_text().strip()[-2000:]
            raise RuntimeError(f"pg_restore failed ({self.process.returncode}): {message}")
        return batches(self.file.read_text())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _execute(dbname: str, options: str, sql_text: tuple[str, list[str]]) -> None:
    """Each query at once (one transaction each), after the preamble's settings."""
    preamble, queries = sql_text
    params: dict[str, Any] = {**pg.owner_params(dbname), "options": options}
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(preamble.encode(), prepare=False)
        for query in queries:
            try:
                conn.execute(query.encode(), prepare=False)
            except psycopg.Error as error:
                first = HEADER.search(query)
                where = first.group(0).splitlines()[1] if first else ""
                raise RuntimeError(f"{error} (in the batch from {where[3:]})") from error


def _pg_restore(
    tool: pg.Tool, path: Path, dbname: str, args: list[str], env: dict[str, str]
) -> None:
    if tool.major >= 17:  # commits a batch of entries at a time, not each one
        args = [f"--transaction-size={BATCH_ENTRIES}", *args]
    process = subprocess.run(  # noqa: S603 - fixed program, arguments built here
        [str(tool.path), "--exit-on-error", *args, f"--dbname={dbname}", str(path)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if process.returncode != 0:
        message = process.stderr.strip()[-2000:]
        raise RuntimeError(f"{tool.path.name} failed ({process.returncode}): {message}")


def _write_list(folder: Path, name: str, entries: list[str]) -> Path:
    listed = folder / f"{name}.list"
    listed.write_text("\n".join(entries) + "\n")
    return listed


def restore_job(
    tool: pg.Tool,
    path: Path,
    dbname: str,
    entries: list[str],
    folder: Path,
    *,
    empty_tables: set[str],
    env: dict[str, str],
    options: str,
) -> dict[str, float]:
    """One job's entries: pre-data by batches, the rows by pg_restore, post-data by batches.

    The sequences' values (``SEQUENCE SET``: data entries, but one statement
    each and no rows) go by batches too. The SQL of all three is written at
    once, in the background. Returns the seconds of each part (``entries one
    by one`` when the SQL could not be sent as it is).
    """
    seconds: dict[str, float] = {}
    loaded = [
        line for line in entries
        if entry_kind(line) == "TABLE DATA" and data_table(line) not in empty_tables
    ]  # fmt: skip
    values = [line for line in entries if entry_kind(line) == "SEQUENCE SET"]
    structure = _write_list(folder, "structure", entries)
    texts = [
        SectionText(tool, path, structure, "pre-data"),
        SectionText(tool, path, _write_list(folder, "values", values), "data"),
        SectionText(tool, path, structure, "post-data"),
    ]

    def timed(name: str, work: Callable[[], None]) -> None:
        started = time.monotonic()
        work()
        seconds[name] = seconds.get(name, 0.0) + time.monotonic() - started

    try:
        pre, sequences, post = (text.batches() for text in texts)
    except MetaCommand:
        listed = _write_list(folder, "all", entries)
        timed(
            "entries one by one",
            lambda: _pg_restore(tool, path, dbname, [f"--use-list={listed}"], env),
        )
        return seconds
    finally:
        for text in texts:
            text.stop()
    timed("pre-data", lambda: _execute(dbname, options, pre))
    if loaded:
        listed = _write_list(folder, "rows", loaded)
        timed("rows", lambda: _pg_restore(
            tool, path, dbname, ["--section=data", f"--use-list={listed}"], env
        ))  # fmt: skip
    timed("sequence values", lambda: _execute(dbname, options, sequences))
    timed("post-data", lambda: _execute(dbname, options, post))
    return seconds


def run_jobs(jobs: Sequence[Callable[[], dict[str, float]]]) -> dict[str, float]:
    """The jobs in threads at once; the first failure is raised once all have ended.

    Returns each part's seconds, the longest job's (the parts overlap across jobs).
    """
    results: list[dict[str, float]] = [{} for _ in jobs]
    errors: list[BaseException] = []

    def run(number: int, job: Callable[[], dict[str, float]]) -> None:
        try:
            results[number] = job()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n, job)) for n, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    parts: dict[str, float] = {}
    for found in results:
        for name, value in found.items():
            parts[name] = max(parts.get(name, 0.0), value)
    return parts
