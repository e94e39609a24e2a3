"""The platform API: staff only; companies, applications and operations through the
same services as the platform admin."""

from __future__ import annotations

from django_tasks_db.models import DBTaskResult

from deployments.models import Operation
from deployments.routine.pool import refill_schema_pool
from qiro import tenant_context
from registration.models import Application, ApplicationStatus
from sysauth.models import User
from tests.api.conftest import PLATFORM_HOST, ApiClient, problem, signed_in
from tests.conftest import PASSWORD
from tests.registration.factories import submitted, verified
from tests.sysauth.conftest import new_company
from tests.tenants.test_provisioning import remove_company


def staff(staff_client) -> ApiClient:
    return signed_in(PLATFORM_HOST, "platform-staff@qiro.example.kr", token=True)


def test_a_company_user_cannot_use_the_platform_api(live_db, company):
    client = ApiClient(PLATFORM_HOST)
    response = client.post("/auth/sign-in", {"email": company.owner.email, "password": PASSWORD})
    assert response.status_code == 401
    company_token = signed_in(company.host, company.owner.email, token=True).token
    response = ApiClient(PLATFORM_HOST, token=company_token).get("/companies")
    assert response.status_code == 401


def test_staff_without_the_permission_are_refused(live_db):
    with tenant_context.owner_context():
        clerk, _ = User.objects.get_or_create(email="clerk@qiro.example.kr",
                                              defaults={"is_staff": True})  # fmt: skip
        clerk.set_password(PASSWORD)
        clerk.save()
    client = signed_in(PLATFORM_HOST, clerk.email, token=True)
    response = client.get("/companies")
    assert response.status_code == 403
    assert problem(response)["type"] == "urn:qiro:problem:forbidden"
    assert client.get("/operations").status_code == 403


def test_staff_list_suspend_and_reactivate_a_company(live_db, staff_client):
    made = new_company("apq")
    client = staff(staff_client)
    page = client.get("/companies?search=apq&limit=1").json()
    assert [c["id"] for c in page["items"]] == [made.company.pk]
    member = signed_in(made.host, made.member.email, token=True)
    suspended = client.post(f"/companies/{made.company.pk}/suspend", {"reason": "unpaid"})
    assert suspended.status_code == 200, suspended.content
    assert suspended.json()["status"] == "suspended"
    assert member.get("/auth/me").status_code == 403
    assert client.post(f"/companies/{made.company.pk}/reactivate").json()["status"] == "active"
    assert member.get("/auth/me").status_code == 200
    assert client.post("/companies/999999999/suspend", {"reason": "x"}).status_code == 404


def test_companies_are_paged_by_keyset(live_db, staff_client, company, other_company):
    client = staff(staff_client)
    first = client.get("/companies?limit=1").json()
    second = client.get(f"/companies?limit=1&cursor={first['next_cursor']}").json()
    assert first["items"][0]["id"] < second["items"][0]["id"]
    assert client.get("/companies?cursor=garbage").status_code == 400


def test_staff_reject_an_application_with_a_reason(live_db, staff_client):
    application, _token = submitted()
    client = staff(staff_client)
    listed = client.get("/applications?status=submitted").json()["items"]
    assert str(application.pk) in [a["id"] for a in listed]
    assert client.post(f"/applications/{application.pk}/reject", {"reason": ""}).status_code == 422
    response = client.post(f"/applications/{application.pk}/reject", {"reason": "BRN closed"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == ApplicationStatus.REJECTED
    again = client.post(f"/applications/{application.pk}/approve")
    assert again.status_code == 409
    assert problem(again)["type"] == "urn:qiro:problem:conflict"
    with tenant_context.owner_context():
        assert Application.objects.get(pk=application.pk).rejection_reason == "BRN closed"


def forget_queued(operation_id: int) -> None:
    """The operation and its queued task go: no later test's worker may run them."""
    with tenant_context.owner_context():
        task_id = Operation.objects.filter(pk=operation_id).values_list("task_id", flat=True)
        DBTaskResult.objects.filter(pk__in=list(task_id)).delete()
        Operation.objects.filter(pk=operation_id).delete()


def test_staff_start_an_operation_and_poll_it(live_db, staff_client):
    client = staff(staff_client)
    started = client.post("/operations", {"kind": "verify"})
    assert started.status_code == 202, started.content
    body = started.json()
    try:
        assert body["status"] == Operation.Status.QUEUED
        polled = client.get(f"/operations/{body['id']}").json()
        assert polled["kind"] == "verify"
        assert polled["finished"] is False
    finally:
        forget_queued(body["id"])
    assert client.get(f"/operations/{body['id']}").status_code == 404


def test_staff_approve_a_verified_application_and_its_company_is_ready(live_db, staff_client):
    application = verified()
    client = staff(staff_client)
    response = client.post(f"/applications/{application.pk}/approve")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == ApplicationStatus.PROVISIONED
    assert body["company_id"]
    from tenants.models import Company

    schema = Company.objects.using("owner").get(pk=body["company_id"]).schema_name
    with tenant_context.owner_context():
        Application.objects.filter(pk=application.pk).update(company=None)
        # A pool refill queued by the approval is not left for another test's worker.
        DBTaskResult.objects.filter(task_path=refill_schema_pool.module_path).delete()
    remove_company(schema)
