"""A verification run as a page: findings first, one row each, expected against found.

Failures, then skips, each with the company it concerns; observations (sizes,
slow statements) as small tables of their own; passes counted per check
instead of listed schema by schema. Checks go by their titles, and what was
expected and found is read in the reader's language (``qiro.stored_text``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, Count, IntegerField, Value, When
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from deployments.models import CheckResult, VerificationRun
from deployments.verification import check_title
from qiro import stored_text
from qiro.admin_display import local_stamp, size_text

# Observation columns as people name them; "bytes" and "*_bytes" also read as sizes.
COLUMN_LABELS = {
    "schema": _("Schema"), "bytes": _("Size"), "query": _("Statement"), "calls": _("Calls"),
    "mean_ms": _("Mean (ms)"), "total_ms": _("Total (ms)"), "table": _("Table"),
    "index": _("Index"), "scans": _("Scans"), "total_bytes": _("Total size"),
    "index_bytes": _("Index size"), "rows_estimate": _("Rows (estimate)"),
    "dead": _("Dead rows"), "live": _("Live rows"), "last_autovacuum": _("Last autovacuum"),
}  # fmt: skip


def _cell(key: str, value: Any) -> Any:
    """One value of an observation as people read it: sizes in words, unknowns as a dash."""
    if key == "bytes" or key.endswith("_bytes"):
        return size_text(value)
    if value is None or (key == "rows_estimate" and isinstance(value, int) and value < 0):
        return "—"  # never analysed, or never vacuumed
    if key == "last_autovacuum" and isinstance(value, str):
        moment = parse_datetime(value)
        return local_stamp(moment) if moment else value
    return value


SHOWN = 2000  # findings on one page


@dataclass
class Observation:
    check_name: str
    title: str
    columns: list[Any] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    text: str = ""


def _observation(result: CheckResult) -> Observation:
    """An observation's JSON list of records as a table, or its text when it is not one."""
    try:
        records = json.loads(result.found)
    except ValueError:
        records = None
    if isinstance(records, list) and records and all(isinstance(r, dict) for r in records):
        keys = list(records[0])
        rows = [[_cell(k, r.get(k)) for k in keys] for r in records]
        return Observation(
            result.check_name, _title(result.check_name), [COLUMN_LABELS.get(k, k) for k in keys],
            rows,
        )  # fmt: skip
    return Observation(
        result.check_name, _title(result.check_name), text=stored_text.read(result.found)
    )


def _title(check_name: str) -> str:
    return gettext(check_title(check_name))


def page_context(run: VerificationRun) -> dict[str, Any]:
    from tenants.models import Company

    order = Case(
        When(outcome=CheckResult.Outcome.FAIL, then=Value(0)),
        When(outcome=CheckResult.Outcome.SKIP, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    findings = list(
        run.results.filter(outcome__in=[CheckResult.Outcome.FAIL, CheckResult.Outcome.SKIP])
        .annotate(rank=order)
        .order_by("rank", "check_name", "schema_name")[:SHOWN]
    )
    names = dict(
        Company.objects.filter(
            schema_name__in={r.schema_name for r in findings} - {"", "public"}
        ).values_list("schema_name", "name")
    )
    for finding in findings:
        finding.company_name = names.get(finding.schema_name, "")  # type: ignore[attr-defined]
        finding.title = _title(finding.check_name)  # type: ignore[attr-defined]
        finding.expected_text = stored_text.read(finding.expected)  # type: ignore[attr-defined]
        finding.found_text = stored_text.read(finding.found)  # type: ignore[attr-defined]
    observations = [
        _observation(r)
        for r in run.results.filter(outcome=CheckResult.Outcome.INFO).order_by("check_name")
    ]
    passed = [
        {**row, "title": _title(row["check_name"])}
        for row in run.results.filter(outcome=CheckResult.Outcome.PASS)
        .values("check_name")
        .annotate(count=Count("pk"))
        .order_by("check_name")
    ]
    return {
        "run": run,
        "findings": findings,
        "shown_limit": SHOWN,
        "observations": observations,
        "passed_checks": passed,
    }
