"""What a job wrote is read in the reader's language: an operation's log, a run's findings.

The rows are written as the jobs write them (``services.log``, the checks'
messages), then the admin's pages and the progress JSON are read in Korean
and in English. A line written before as plain English still shows, as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext_noop

from deployments import services
from deployments.models import CheckResult, Deployment, Operation, VerificationRun
from deployments.verification.base import about, text
from qiro import stored_text, tenant_context
from qiro.stored_text import said

MARK = "stored-text-test"
OLD_LINE = "07:11:02 pg_dump wrote qiro-all-20240101.dumpdir"


@pytest.fixture
def written(live_db: None) -> Iterator[dict[str, Any]]:
    """An operation with an old plain line and new lines; a failed run with its findings."""
    with tenant_context.owner_context():
        operation = Operation.objects.create(
            kind=Operation.Kind.BACKUP, requested_by=MARK, status=Operation.Status.SUCCEEDED,
            log=OLD_LINE + "\n",
        )  # fmt: skip
        services.log(operation, gettext_noop("counted rows of %(count)d tables"), count=41)
        services.step(operation, gettext_noop("pg_dump wrote %(file)s"), file="qiro-all.dumpdir")
        run = VerificationRun.objects.create(
            operation=operation, database_name=MARK, status=VerificationRun.Status.FAILED,
            failed=1, passed=1,
        )  # fmt: skip
        CheckResult.objects.create(
            run=run, check_name="row_security", schema_name="public", outcome="fail",
            expected=text(said(gettext_noop("%(count)d tables: ENABLE, FORCE, %(policy)s"),
                               count=12, policy="tenant_isolation")),
            found=text([about("sysauth_user", said(gettext_noop("FORCE missing")))]),
        )  # fmt: skip
        CheckResult.objects.create(
            run=run, check_name="roles", schema_name="", outcome="fail",
            expected="app: NOSUPERUSER, written before",  # plain text of an older run
            found="app: BYPASSRLS",
        )  # fmt: skip
        deployment = Deployment.objects.create(operation=operation, status="rolled_back")
    tenant_context.clear()
    yield {"operation": operation, "run": run, "deployment": deployment}
    with tenant_context.owner_context():
        Deployment.objects.filter(operation__requested_by=MARK).delete()
        VerificationRun.objects.filter(database_name=MARK).delete()
        Operation.objects.filter(requested_by=MARK).delete()


def page(client: Any, path: str, language: str) -> str:
    response = client.get(path, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, path
    return response.content.decode()


def test_an_operations_log_reads_in_the_viewers_language(staff_client, written):
    op = written["operation"]
    korean = page(staff_client, f"/admin/deployments/operation/{op.pk}/change/", "ko")
    assert "테이블 41개의 행 수를 셈" in korean
    assert "pg_dump가 qiro-all.dumpdir을(를) 기록함" in korean
    assert "counted rows" not in korean
    assert OLD_LINE in korean  # written before, as plain text: shown as it is
    english = page(staff_client, f"/admin/deployments/operation/{op.pk}/change/", "en")
    assert "counted rows of 41 tables" in english
    assert "pg_dump wrote qiro-all.dumpdir" in english
    assert OLD_LINE in english

    progress = staff_client.get(
        f"/admin/deployments/operation/{op.pk}/progress/",
        HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko",
    ).json()  # fmt: skip
    lines = progress["log"].splitlines()
    assert lines[0] == OLD_LINE
    assert lines[1].endswith(" 테이블 41개의 행 수를 셈")
    assert lines[1][:8].count(":") == 2  # the time of day it was written, in the reader's zone


def test_a_verification_runs_findings_read_in_the_viewers_language(staff_client, written):
    run = written["run"]
    korean = page(staff_client, f"/admin/deployments/verificationrun/{run.pk}/change/", "ko")
    assert "테이블 12개: ENABLE, FORCE, tenant_isolation" in korean
    assert "sysauth_user: FORCE 없음" in korean
    assert "보호 테이블의 행 보안" in korean  # the check's title
    assert "app: NOSUPERUSER, written before" in korean  # an older run's plain text
    assert "tables: ENABLE" not in korean
    english = page(staff_client, f"/admin/deployments/verificationrun/{run.pk}/change/", "en")
    assert "12 tables: ENABLE, FORCE, tenant_isolation" in english
    assert "sysauth_user: FORCE missing" in english
    assert "Row security on the protected tables" in english


def test_a_deployments_steps_and_reason_read_in_the_viewers_language(staff_client, written):
    deployment = written["deployment"]
    with tenant_context.owner_context():
        Deployment.objects.filter(pk=deployment.pk).update(
            reason=text([said(gettext_noop("%(step)s: %(error)s"),
                              step=said(gettext_noop("Migrate")), error="boom")]),
            steps=[{"name": "migrate", "status": "failed", "started": None, "finished": None,
                    "detail": text(said(gettext_noop("%(count)d schemas up to date"), count=3))}],
        )  # fmt: skip
    tenant_context.clear()
    path = f"/admin/deployments/deployment/{deployment.pk}/change/"
    korean = page(staff_client, path, "ko")
    assert "마이그레이션: boom" in korean
    assert "스키마 3개 최신 상태" in korean
    assert '"msg"' not in korean
    english = page(staff_client, path, "en")
    assert "Migrate: boom" in english
    assert "3 schemas up to date" in english


def test_stored_text_reads_nested_messages_lists_sizes_and_plain_text():
    message = said(gettext_noop("%(file)s (%(size)s)"), file="a.dump", size=stored_text.size(2048))
    stored = stored_text.stored([message, "a server's own words"])
    with translation.override("en"):
        assert stored_text.read(stored) == "a.dump (2.0\xa0KB); a server's own words"
        assert stored_text.read_each(stored) == ["a.dump (2.0\xa0KB)", "a server's own words"]
        assert stored_text.read("plain, as written before") == "plain, as written before"
        assert stored_text.read('{"not": "a message"}') == '{"not": "a message"}'
        assert stored_text.stored(["only", "plain"]) == "only; plain"
        # a parameter the message does not have: still read, never an error
        odd = stored_text.stored(said(gettext_noop("pg_dump wrote %(file)s"), name="x"))
        assert "pg_dump wrote" in stored_text.read(odd)
    with translation.override("ko"):
        assert stored_text.read(
            stored_text.stored(said(gettext_noop("not applied: %(migrations)s"),
                                    migrations=["a.0001", "b.0002"]))
        ) == "적용되지 않음: a.0001, b.0002"  # fmt: skip
