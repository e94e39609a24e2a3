"""The admin's deploy page: a button that queues the deploy, and per-schema progress."""

from __future__ import annotations

import pytest

from deployments.models import Deployment, Operation

PROGRESS = {"done": 412, "total": 1000, "failed": 0, "remaining_seconds": 25, "last_schema": "acme"}


def deploy_running(figures: dict | None) -> Operation:
    operation = Operation.objects.using("owner").create(
        kind=Operation.Kind.DEPLOY, status=Operation.Status.RUNNING
    )
    step: dict[str, object] = {"name": "migrate", "status": "running", "detail": ""}
    if figures is not None:
        step["progress"] = figures
    Deployment.objects.using("owner").create(operation=operation, steps=[step])
    return operation


@pytest.fixture(autouse=True)
def no_running_deploy_left(django_db_blocker):
    """The owner's writes outlive the test: a deploy left "running" would look stuck later."""
    yield
    with django_db_blocker.unblock():
        _remove_running_deploys()


def _remove_running_deploys() -> None:
    Deployment.objects.using("owner").filter(operation__kind=Operation.Kind.DEPLOY).filter(
        status=Deployment.Status.RUNNING
    ).delete()
    Operation.objects.using("owner").filter(
        kind=Operation.Kind.DEPLOY, status=Operation.Status.RUNNING
    ).delete()


DEPLOY = "/admin/deployments/verificationrun/deploy/"


def test_the_deploy_button_asks_first_saying_what_the_deploy_would_do(staff_client):
    before = Operation.objects.using("owner").filter(kind=Operation.Kind.DEPLOY).count()
    page = staff_client.get(DEPLOY, HTTP_HOST="localhost")
    assert page.status_code == 200
    assert "개가 모두 최신입니다" in page.content.decode()  # nothing behind: no backup
    unconfirmed = staff_client.post(DEPLOY, HTTP_HOST="localhost")
    assert unconfirmed.status_code == 200  # the question again, nothing started
    assert Operation.objects.using("owner").filter(kind=Operation.Kind.DEPLOY).count() == before


def test_the_confirmed_deploy_queues_the_fast_deploy_and_opens_its_progress(staff_client):
    response = staff_client.post(DEPLOY, {"confirm": "yes"}, HTTP_HOST="localhost")
    assert response.status_code == 302
    operation = Operation.objects.using("owner").latest("pk")
    assert operation.kind == Operation.Kind.DEPLOY
    assert operation.parameters == {"executor": "fast"}
    assert response["Location"] == f"/admin/deployments/operation/{operation.pk}/change/"


def test_the_progress_page_shows_schemas_done_of_all_with_failures_and_time_left(staff_client):
    operation = deploy_running(PROGRESS)
    page = staff_client.get(
        f"/admin/deployments/operation/{operation.pk}/change/",
        HTTP_HOST="localhost",
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert '<span id="op-schemas-done">412</span> / <span id="op-schemas-total">1000</span>' in html
    assert '<span id="op-schemas-left">25</span>' in html

    polled = staff_client.get(
        f"/admin/deployments/operation/{operation.pk}/progress/",
        HTTP_HOST="localhost",
    ).json()
    assert polled["schemas"] == PROGRESS


def test_the_progress_page_of_a_deploy_before_its_schemas_shows_no_figures(staff_client):
    operation = deploy_running(None)
    page = staff_client.get(
        f"/admin/deployments/operation/{operation.pk}/change/",
        HTTP_HOST="localhost",
    )
    assert '<p id="op-schemas" hidden>' in page.content.decode()


def test_a_test_restore_of_one_backup_opens_its_progress_page(staff_client):
    from deployments.models import Backup

    backup = Backup.objects.using("owner").create(
        scope=Backup.Scope.DATABASE, database_name="qiro", status=Backup.Status.OK
    )
    try:
        response = staff_client.post(
            "/admin/deployments/backup/",
            {"action": "test_restore_selected", "_selected_action": [backup.pk]},
            HTTP_HOST="localhost",
        )
        operation = Operation.objects.using("owner").latest("pk")
        assert operation.kind == Operation.Kind.TEST_RESTORE
        assert response.status_code == 302
        assert response["Location"] == f"/admin/deployments/operation/{operation.pk}/change/"
        operation.delete()
    finally:
        backup.delete()
