"""A verification run's page: findings first with their company, observations as tables."""

from __future__ import annotations

import json

from deployments.models import CheckResult, VerificationRun
from qiro import tenant_context
from qiro.admin_display import size_text


def test_findings_come_first_with_company_names_and_observations_are_tables(
    staff_client, two_companies
):
    a, _b = two_companies
    with tenant_context.owner_context():
        run = VerificationRun.objects.create(
            database_name="qiro", status=VerificationRun.Status.FAILED, schema_count=2,
            failed=1, passed=2, duration_seconds=192.2,
        )  # fmt: skip
        CheckResult.objects.bulk_create([
            CheckResult(run=run, check_name="row_security", schema_name=a.company.schema_name,
                        outcome="pass"),
            CheckResult(run=run, check_name="row_security", schema_name="beta", outcome="pass"),
            CheckResult(run=run, check_name="policies", schema_name=a.company.schema_name,
                        outcome="fail", expected="company_id = qiro_company()",
                        found="true"),
            CheckResult(run=run, check_name="largest_schemas", outcome="info",
                        found=json.dumps([{"schema": "acme", "bytes": 4096}])),
        ])  # fmt: skip
    try:
        page = staff_client.get(
            f"/admin/deployments/verificationrun/{run.pk}/change/", HTTP_HOST="localhost"
        ).content.decode()
        findings = page.index("발견 사항")
        failure = page.index("company_id = qiro_company()")
        passed = page.index("통과한 검사")
        assert findings < failure < passed
        assert a.company.name in page[findings:passed]
        assert "<th>스키마</th><th>크기</th>" in page  # the observation's records as a table
        assert size_text(4096) in page
        assert '"bytes": 4096' not in page
        assert "2회" in page[passed:]  # passes counted per check, not listed per schema
        assert "3분 12초" in page
    finally:
        with tenant_context.owner_context():
            run.delete()
