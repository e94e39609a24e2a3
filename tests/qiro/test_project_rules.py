"""Project rules as lint: small regex rules over our own source, each with examples.

The tenant context is set in one module only; SQL is never built by string
formatting of values. A rule that matches its bad example and not its good
one is known to work; then no project file may match it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("qiro", "tenants", "sysauth", "registration", "deployments", "api")


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    description: str
    bad: str
    good: str
    allowed_in: tuple[str, ...] = ()


RULES = [
    Rule(
        "context-in-one-place",
        re.compile(r"SET\s+(LOCAL\s+)?(search_path|qiro\.)|set_config\s*\(", re.IGNORECASE),
        "search_path and qiro.* settings are set only by the runtime backend",
        bad='cursor.execute("SET search_path TO acme")',
        good="cursor.execute(\"SELECT current_setting('search_path')\")",
        allowed_in=("qiro/db/backends/runtime/base.py",),
    ),
    Rule(
        "no-formatted-sql",
        re.compile(
            r"""\.execute\(\s*f["']|\.execute\([^)]*["']\s*%\s*[\w(]|\.execute\([^)]*\.format\("""
        ),
        "SQL values go in as parameters, identifiers through psycopg.sql",
        bad='cursor.execute(f"SELECT * FROM {table}")',
        good='cursor.execute("SELECT * FROM t WHERE id = %s", [pk])',
    ),
    Rule(
        "no-formatted-sql-composable",
        re.compile(r"""\bsql\.SQL\(\s*(f|rf|fr)["']""", re.IGNORECASE),
        "psycopg.sql templates are literals; identifiers and values go in through format()",
        bad='sql.SQL(f"{verb} ROLE {{}}").format(name)',
        good='sql.SQL("{verb} ROLE {name}").format(verb=sql.SQL(verb), name=name)',
    ),
    Rule(
        "owner-back-to-public-in-one-place",
        re.compile(r"\.set_schema_to_public\s*\("),
        "the owner's connection goes back to public through qiro.db.pg.owner_on_public()",
        bad="connection.set_schema_to_public()",
        good="connection = pg.owner_on_public()",
        allowed_in=("qiro/db/pg.py",),
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_matches_its_bad_example_only(rule):
    assert rule.pattern.search(rule.bad)
    assert not rule.pattern.search(rule.good)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_project_source_follows_the_rule(rule):
    offenders = []
    for directory in SOURCE_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in rule.allowed_in or "/migrations/" in relative:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if rule.pattern.search(line):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], rule.description
