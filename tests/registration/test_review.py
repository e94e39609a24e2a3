"""Review in the platform admin: list, filters, search, approve, reject with a reason."""

from __future__ import annotations

import re
from html import unescape

from django.core import mail

from registration import actions
from registration.models import Application, ApplicationStatus, ReviewEvent
from sysauth.models import User
from tests.registration.factories import submitted, verified

LIST = "/admin/registration/application/"


def get(client, path):
    return client.get(path, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")


def test_the_list_filters_searches_and_filters_by_period(live_db, staff_client):
    application = verified(company_name="검색 테스트 상사")
    brn = application.business_registration_number
    page = get(staff_client, LIST).content.decode()
    assert "검색 테스트 상사" in page
    # dates by the period filter (no date hierarchy: it reads every row's date)
    assert '<nav class="toplinks">' not in page
    today = re.search(r'href="(\?submitted_at__gte=[^"]+)"', page)
    assert today, "the period filter's first choice: today"
    assert "검색 테스트 상사" in get(staff_client, LIST + unescape(today.group(1))).content.decode()
    for query in (
        f"?q={brn[:3]}-{brn[3:5]}-{brn[5:]}",
        f"?q={application.contact_email}",
        "?q=검색",
    ):
        assert "검색 테스트 상사" in get(staff_client, LIST + query).content.decode()
    assert (
        "검색 테스트 상사"
        in get(staff_client, LIST + "?status__exact=email_verified").content.decode()
    )
    assert (
        "검색 테스트 상사"
        not in get(staff_client, LIST + "?status__exact=rejected").content.decode()
    )
    detail = get(staff_client, f"{LIST}{application.pk}/change/").content.decode()
    assert "/approve/" in detail
    assert "/reject/" in detail


def test_rejection_needs_a_reason_then_is_recorded_and_mailed(live_db, staff_client):
    application = verified()
    url = f"{LIST}{application.pk}/reject/"
    assert get(staff_client, url).status_code == 200
    missing = staff_client.post(url, {"confirm": "yes", "reason": " "}, HTTP_HOST="localhost")
    assert missing.status_code == 200  # the page again, with the error
    assert Application.objects.using("owner").get(pk=application.pk).status == "email_verified"

    done = staff_client.post(
        url, {"confirm": "yes", "reason": "사업자 상태 확인 불가"}, HTTP_HOST="localhost"
    )
    assert done.status_code == 302
    stored = Application.objects.using("owner").get(pk=application.pk)
    assert stored.status == ApplicationStatus.REJECTED
    assert stored.rejection_reason == "사업자 상태 확인 불가"
    assert stored.admin_password_hash == ""
    event = ReviewEvent.objects.using("owner").get(application=application)
    assert event.actor is not None
    assert (event.decision, event.reason, event.actor.email) == (
        "rejected", "사업자 상태 확인 불가", "platform-staff@qiro.example.kr",
    )  # fmt: skip
    assert event.created_at is not None
    assert mail.outbox[-1].to == [application.contact_email]
    assert "사업자 상태 확인 불가" in mail.outbox[-1].body


def test_a_rejected_brn_can_sign_up_again(live_db):
    application = verified()
    reviewer = User.objects.using("owner").filter(is_staff=True, company_id__isnull=True).first()
    reviewer = reviewer or User.objects.db_manager("owner").create_user(
        "r@q.kr", "x", is_staff=True
    )
    actions.reject_application(application_id=application.pk, acting_user=reviewer, reason="중복")
    again, _ = submitted(business_registration_number=application.business_registration_number,
                         subdomain=application.subdomain)  # fmt: skip
    assert again.pk != application.pk


def test_an_unverified_application_cannot_be_approved(live_db, staff_client):
    application, _ = submitted()
    url = f"{LIST}{application.pk}/approve/"
    response = staff_client.post(url, {"confirm": "yes"}, HTTP_HOST="localhost", follow=True)
    assert "verified" in response.content.decode()
    assert Application.objects.using("owner").get(pk=application.pk).status == "submitted"


def test_the_list_action_asks_for_confirmation_first(live_db, staff_client):
    application = verified()
    response = staff_client.post(
        LIST, {"action": "reject_selected", "_selected_action": [str(application.pk)]},
        HTTP_HOST="localhost",
    )  # fmt: skip
    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()
    assert Application.objects.using("owner").get(pk=application.pk).status == "email_verified"


def test_a_failed_provisioning_keeps_the_approval_and_approving_again_retries(
    live_db,
    staff_client,
    monkeypatch,
):
    from django.db import DatabaseError

    from tenants import provisioning
    from tenants.models import Company

    application = verified()
    url = f"{LIST}{application.pk}/approve/"

    def broken(*args, **kwargs):
        raise DatabaseError("injected failure")

    monkeypatch.setattr(provisioning, "create_first_administrator", broken)
    failed = staff_client.post(
        url, {"confirm": "yes"}, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en", follow=True
    )
    assert "Approve it again to retry" in failed.content.decode()
    stored = Application.objects.using("owner").get(pk=application.pk)
    assert stored.status == ApplicationStatus.APPROVED
    assert stored.admin_password_hash  # still there for the retry
    assert (
        not Company.objects.using("owner")
        .filter(business_registration_number=application.business_registration_number)
        .exists()
    )

    monkeypatch.undo()
    assert staff_client.post(url, {"confirm": "yes"}, HTTP_HOST="localhost").status_code == 302
    stored.refresh_from_db()
    assert stored.status == ApplicationStatus.PROVISIONED
    decisions = ReviewEvent.objects.using("owner").filter(application=application)
    assert list(decisions.values_list("decision", flat=True)) == ["approved", "provisioned"]
