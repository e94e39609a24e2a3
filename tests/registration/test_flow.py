"""The whole way: sign-up, e-mail link, approval in the platform admin, first sign-in."""

from __future__ import annotations

from django.core import mail
from django.test import Client

from registration.models import Application, ApplicationStatus, ReviewEvent
from tenants.models import Company
from tests.conftest import admin_sign_in
from tests.registration.factories import PASSWORD, link_token, signup_post, valid_brn


def test_sign_up_verify_approve_and_sign_in_on_the_company_host(live_db, staff_client):
    applicant = Client()
    brn = valid_brn()
    post = signup_post(
        company_name="주식회사 바다전자",
        business_registration_number=f"{brn[:3]}-{brn[3:5]}-{brn[5:]}",
    )
    response = applicant.post("/signup/", post, HTTP_HOST="localhost")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/signup/sent/"
    page = applicant.get("/signup/sent/", HTTP_HOST="localhost").content.decode()
    assert post["contact_email"] in page

    assert mail.outbox[-1].to == [post["contact_email"]]
    token = link_token(mail.outbox[-1].body)
    link = f"/signup/verify/{token}/"
    assert applicant.get(link, HTTP_HOST="localhost").status_code == 200
    confirmed = applicant.post(link, HTTP_HOST="localhost")
    assert confirmed.status_code == 200

    application = Application.objects.using("owner").get(subdomain=post["subdomain"])
    assert application.status == ApplicationStatus.EMAIL_VERIFIED
    assert application.business_registration_number == brn
    assert PASSWORD not in application.admin_password_hash
    assert application.admin_password_hash.startswith("argon2")

    approve_url = f"/admin/registration/application/{application.pk}/approve/"
    confirmation = staff_client.get(approve_url, HTTP_HOST="localhost")
    assert confirmation.status_code == 200
    assert "주식회사 바다전자" in confirmation.content.decode()
    done = staff_client.post(approve_url, {"confirm": "yes"}, HTTP_HOST="localhost")
    assert done.status_code == 302

    application.refresh_from_db()
    assert application.status == ApplicationStatus.PROVISIONED
    assert application.admin_password_hash == ""
    company = Company.objects.using("owner").get(pk=application.company_id)
    assert company.status == Company.Status.ACTIVE
    assert company.name == "주식회사 바다전자"
    decisions = list(
        ReviewEvent.objects.using("owner")
        .filter(application=application)
        .values_list("decision", "actor__email")
    )
    assert decisions == [
        ("approved", "platform-staff@qiro.example.kr"),
        ("provisioned", "platform-staff@qiro.example.kr"),
    ]
    assert mail.outbox[-1].to == [post["contact_email"]]
    assert f"{post['subdomain']}.localhost" in mail.outbox[-1].body

    first_admin = Client()
    host = f"{post['subdomain']}.localhost"
    signed_in = admin_sign_in(first_admin, host, post["admin_email"], password=PASSWORD)
    assert signed_in.status_code == 302, signed_in.content.decode()[:1000]
    assert first_admin.get("/admin/", HTTP_HOST=host).status_code == 200
