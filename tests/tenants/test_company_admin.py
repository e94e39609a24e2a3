"""Companies in the platform admin: kept figures, suspend and reactivate, open site."""

from __future__ import annotations

from django.test import Client

from qiro import tenant_context
from sysauth.models import User
from tenants import services
from tenants.models import Company
from tests.conftest import admin_sign_in, make_company
from tests.tenants.test_provisioning import remove_company

LIST = "/admin/tenants/company/"


def test_figures_are_kept_columns_refreshed_in_one_pass(live_db, two_companies):
    a, b = two_companies
    Company.objects.using("owner").filter(pk__in=[a.company.pk, b.company.pk]).update(
        user_count=0, schema_size_bytes=0
    )
    assert services.refresh_company_stats() >= 2
    a.company.refresh_from_db()
    with tenant_context.company_context(a.company):
        active_users = User.objects.filter(is_active=True).count()
    assert a.company.user_count == active_users >= 2  # owner and member at least
    assert a.company.schema_size_bytes > 0
    assert a.company.stats_refreshed_at is not None


def test_the_list_shows_status_domain_figures_and_a_site_link(live_db, staff_client, two_companies):
    a, _ = two_companies
    services.refresh_company_stats(companies=[a.company])
    page = staff_client.get(LIST, HTTP_HOST="localhost:8000", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert a.host in html
    assert f"//{a.host}:8000/" in html
    assert "Open site" in html
    assert staff_client.get(LIST + "?q=" + a.company.business_registration_number,
                            HTTP_HOST="localhost").status_code == 200  # fmt: skip


def test_suspension_asks_for_a_reason_signs_users_out_and_shows_the_suspended_page(
    live_db,
    staff_client,
):
    c = make_company("suspendme", "2112345672", "정지 예정 회사")
    try:
        user_client = Client()
        signed_in = admin_sign_in(user_client, c.host, c.owner.email)
        assert signed_in.status_code == 302
        action = {"action": "suspend_selected", "_selected_action": [str(c.company.pk)]}
        confirmation = staff_client.post(LIST, action, HTTP_HOST="localhost")
        assert confirmation.status_code == 200
        assert 'name="reason"' in confirmation.content.decode()
        c.company.refresh_from_db()
        assert c.company.status == Company.Status.ACTIVE

        done = staff_client.post(
            LIST, {**action, "confirm": "yes", "reason": "요금 미납"}, HTTP_HOST="localhost"
        )
        assert done.status_code == 302
        c.company.refresh_from_db()
        assert (c.company.status, c.company.status_reason) == ("suspended", "요금 미납")
        blocked = user_client.get("/admin/", HTTP_HOST=c.host)
        assert blocked.status_code == 403
        with tenant_context.company_context(c.company):
            from sysauth.models import Session

            assert not Session.objects.filter(status="active").exists()

        back = {"action": "reactivate_selected", "_selected_action": [str(c.company.pk)]}
        assert staff_client.post(LIST, back, HTTP_HOST="localhost").status_code == 200
        staff_client.post(LIST, {**back, "confirm": "yes"}, HTTP_HOST="localhost")
        c.company.refresh_from_db()
        assert c.company.status == Company.Status.ACTIVE
        # the old session stays ended: the user signs in again
        after = user_client.get("/admin/", HTTP_HOST=c.host)
        assert after.status_code == 302
    finally:
        remove_company("suspendme")


def test_staff_cannot_change_status_or_figures_by_hand(live_db, staff_client, two_companies):
    a, _ = two_companies
    page = staff_client.get(f"{LIST}{a.company.pk}/change/", HTTP_HOST="localhost")
    html = page.content.decode()
    assert 'name="status"' not in html
    assert 'name="user_count"' not in html
