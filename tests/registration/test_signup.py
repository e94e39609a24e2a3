"""The sign-up form on the public host: Korean first, errors next to the fields."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from registration.models import Application, ApplicationStatus, VerificationStatus
from tests.registration.factories import signup_post, submitted, valid_brn


def post(data, language="ko"):
    return Client().post("/signup/", data, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE=language)


def test_the_form_renders_in_korean_and_english_with_labels(live_db):
    korean = Client().get("/signup/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko")
    english = Client().get("/signup/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    assert korean.status_code == english.status_code == 200
    assert 'lang="ko"' in korean.content.decode()
    assert '<label for="id_business_registration_number">' in english.content.decode()
    assert "Business registration number" in english.content.decode()


def test_a_sign_up_is_stored_normalised_and_mails_a_link(live_db):
    brn = valid_brn()
    data = signup_post(
        business_registration_number=f"{brn[:3]}-{brn[3:5]}-{brn[5:]}",
        phone="+82 10 9876 5432",
        subdomain="HanBit-Soft",
    )
    response = post(data)
    assert response.status_code == 302, response.content.decode()[:3000]
    application = Application.objects.using("owner").get(business_registration_number=brn)
    assert application.subdomain == "hanbit-soft"
    assert application.phone == "010-9876-5432"
    assert application.status == ApplicationStatus.SUBMITTED
    # The default verifier checks nothing remotely and does not pretend to.
    assert application.brn_status == VerificationStatus.PENDING
    assert application.brn_checked_by == ""
    assert mail.outbox[-1].to == [data["contact_email"]]
    assert "/signup/verify/" in mail.outbox[-1].body
    application.delete()


@pytest.mark.parametrize(
    ("brn", "code"),
    [
        ("123-45-67890", "brn_check_digit"),
        ("1168200277", "brn_check_digit"),
        ("116820027", "brn_length"),
        ("11682002761", "brn_length"),
        ("ABC-DE-FGHIJ", "brn_format"),
        ("000-00-00000", "brn_component"),
    ],
)
def test_invalid_brns_get_a_field_error(live_db, brn, code):
    response = post(signup_post(business_registration_number=brn))
    assert response.status_code == 400
    errors = response.context["form"].errors.as_data()["business_registration_number"]
    assert [e.code for e in errors] == [code]


def test_an_english_visitor_gets_english_errors(live_db):
    response = post(signup_post(business_registration_number="1234567890"), language="en")
    assert "check digit" in str(response.context["form"].errors["business_registration_number"])
    assert 'id="id_business_registration_number_error"' in response.content.decode()


def test_a_brn_already_pending_gets_a_clear_message_not_a_duplicate(live_db):
    application, _ = submitted()
    response = post(
        signup_post(business_registration_number=application.business_registration_number),
        language="en",
    )
    assert response.status_code == 400
    assert "already exists" in str(response.context["form"].errors["business_registration_number"])
    assert (
        Application.objects.using("owner")
        .filter(business_registration_number=application.business_registration_number)
        .count()
        == 1
    )


def test_a_brn_of_an_active_company_is_refused(live_db, two_companies):
    a, _ = two_companies
    response = post(
        signup_post(business_registration_number=a.company.business_registration_number)
    )
    assert "business_registration_number" in response.context["form"].errors


@pytest.mark.parametrize("subdomain", ["www", "admin", "acme"])
def test_reserved_or_taken_sub_domains_are_refused(live_db, two_companies, subdomain):
    response = post(signup_post(subdomain=subdomain))
    assert "subdomain" in response.context["form"].errors


def test_an_empty_sub_domain_gets_a_suggestion(live_db):
    data = signup_post(subdomain="", company_name="Blue Ocean 주식회사")
    response = post(data)
    assert response.status_code == 302
    application = Application.objects.using("owner").get(contact_email=data["contact_email"])
    assert application.subdomain.startswith("blue-ocean")


def test_the_password_follows_djangos_validators_and_is_never_stored(live_db):
    weak = post(signup_post(password1="12345678", password2="12345678"))
    assert "password1" in weak.context["form"].errors
    differ = post(signup_post(password2="something-else-2026"))
    assert "password2" in differ.context["form"].errors
    data = signup_post()
    post(data)
    stored = Application.objects.using("owner").get(contact_email=data["contact_email"])
    assert data["password1"] not in stored.admin_password_hash
    assert stored.admin_password_hash.startswith("argon2$")


def test_terms_must_be_accepted(live_db):
    data = signup_post()
    del data["terms"]
    assert "terms" in post(data).context["form"].errors
