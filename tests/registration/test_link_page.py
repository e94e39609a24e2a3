"""The verification link's page says what it does, and tells a dead link apart on opening.

Opening (GET) never uses the token: mail scanners and link previews open
links. The state comes from ``registration_email_link_state``, a SECURITY
DEFINER function that only reads; these tests call it as the runtime role
without company context, as the anonymous sign-up pages do.
"""

from __future__ import annotations

from django.test import Client

from qiro.db import pg
from registration.models import Application, ApplicationStatus
from tests.registration.factories import as_owner, expire_token, page_text, submitted
from tests.registration.test_definer_verification import reported_with_changed_body, verify
from tests.registration.test_least_privilege import as_signup

LINK_STATE = "public.registration_email_link_state(text)"


def open_link(token: str, language: str = "ko"):
    return Client().get(
        f"/signup/verify/{token}/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE=language
    )


def press(token: str):
    return Client().post(f"/signup/verify/{token}/", HTTP_HOST="localhost")


def token_row(application: Application) -> tuple[str, object]:
    ((status, used_at),) = as_owner(
        "SELECT status::text, used_at FROM registration_emailverificationtoken "
        "WHERE application_id = %s",
        [application.pk],
    )
    return status, used_at


def test_the_page_says_in_words_which_company_the_address_is_confirmed_for(live_db):
    _, token = submitted(company_name="주식회사 링크확인")
    korean = open_link(token).content.decode()
    assert "주식회사 링크확인의 이메일 주소를 확인하려면" in korean
    english = open_link(token, "en").content.decode()
    assert "confirm your e-mail address for 주식회사 링크확인" in english
    assert "Confirm my e-mail address for 주식회사 링크확인" in english


def test_opening_the_link_many_times_uses_nothing_and_the_button_still_works(live_db):
    application, token = submitted()
    for _ in range(3):
        assert open_link(token).status_code == 200
    assert token_row(application) == ("pending", None)
    assert Application.objects.using("owner").get(pk=application.pk).status == (
        ApplicationStatus.SUBMITTED
    )
    assert press(token).status_code == 200
    assert token_row(application)[0] == "verified"


def test_a_used_link_says_so_on_opening(live_db):
    _, token = submitted()
    press(token)
    text = page_text(open_link(token, "en"), 410)
    assert "already used" in text
    assert "<form" not in text.split("<main>", 1)[1]


def test_an_expired_link_says_so_on_opening_and_stays_unused(live_db):
    application, token = submitted()
    expire_token(application)
    assert "expired" in page_text(open_link(token, "en"), 410)
    # Only reading: the token is not even marked expired by the opening.
    assert token_row(application) == ("pending", None)


def test_an_unknown_link_says_so_on_opening(live_db):
    assert "do not know this link" in page_text(open_link("a" * 43, "en"), 404)


def test_the_state_function_names_a_company_only_to_the_holder_of_a_pending_link(live_db):
    """Attack: ask about guessed, used and expired secrets as the runtime role."""
    pending, pending_token = submitted(company_name="주식회사 대기")
    _, used_token = submitted(company_name="주식회사 사용됨")
    press(used_token)
    old, old_token = submitted(company_name="주식회사 만료")
    expire_token(old)
    ask = "SELECT * FROM registration_email_link_state(%s)"
    assert as_signup(ask, [pending_token]) == [("pending", "주식회사 대기")]
    assert as_signup(ask, [used_token]) == [("used", None)]
    assert as_signup(ask, [old_token]) == [("expired", None)]
    assert as_signup(ask, ["guess" * 8]) == [("unknown", None)]
    assert token_row(pending) == ("pending", None)
    assert token_row(old) == ("pending", None)


def test_the_state_function_is_verified_like_the_other_definer_functions(live_db):
    """A body that would consume the token on GET is reported by verification."""
    assert verify("definer_functions") == {}
    found = reported_with_changed_body(
        LINK_STATE, "RETURN QUERY SELECT 'pending'::text", "RETURN QUERY SELECT 'x'::text"
    )
    assert found == ["registration_email_link_state(text): body differs from the declared one"]


def test_only_the_runtime_role_may_ask_the_state_of_a_link(live_db):
    with pg.connect() as conn:
        row = conn.execute(
            "SELECT has_function_privilege('public', %s, 'EXECUTE')", [LINK_STATE]
        ).fetchone()
    assert row == (False,)
