"""No input gives a server error: generated values at every public form and every admin list.

Hypothesis feeds random text, unicode, NUL bytes, huge and negative numbers,
SQL-ish strings, values outside the ENUM types, malformed UUIDs and dates to

* the query string of every changelist of both admin sites, found in the
  sites' registries as ``tests/test_admin_queries.py`` finds them (filters,
  field lookups that exist and lookups that do not, ``o=``, ``p=``, ``q=``,
  date drill-downs), signed in as platform staff on the public host and as a
  company's owner on its host;
* the object id of every change, history and delete page of both sites;
* every public form: sign-up, verification e-mail resend, the verification
  link, the language switch, the platform admin's and the company's sign-in,
  password reset (the request and the link).

Every answer must be below 500. Generation is derandomized (the same examples
on every run) and sized to keep the module near a minute on two cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.admin import ModelAdmin
from django.core.exceptions import ValidationError
from django.db import models
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qiro import tenant_context
from registration.models import Application
from tests.conftest import PASSWORD, CompanyWithUsers
from tests.registration.factories import PASSWORD as SIGNUP_PASSWORD
from tests.sysauth.conftest import module_company
from tests.test_admin_queries import SITES, page_url, registered_pages

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values people and scripts actually send, beside the generated ones.
HOSTILE = [
    "", " ", "\x00", "a\x00b", "%00", "\\x00", "0", "-0", "-1", "1.5", "1e309", "NaN", "inf",
    "9" * 20, "9" * 400, str(2**63), str(-(2**63) - 1), str(2**31),
    "' OR 1=1 --", "'; DROP TABLE tenants_company; --", '") OR ("1"="1', "1' UNION SELECT 1--",
    "%", "_", "%%", "\\", "'", '"', "null", "None", "true", "[]", "{}", "1,2,abc", ",", "..",
    "../../etc/passwd", "<script>alert(1)</script>", "(?<", "[", "*", "a{99999}", "$1",
    "2026-13-45", "9999-12-31", "0000-00-00", "31/12/2026", "2026-01-01T25:61",
    "00000000-0000-0000-0000-000000000000", "not-a-uuid", "12345678-1234-1234-1234-1234567890a",
    "bogus", "zzz", "submitted", "active", "OWNER", "owner", "INSERT",
    "📈", "한국어 회사", "\u202e", "\ufeff", "\u0301", "a" * 5000, "x" * 300,
    "1168200276", "116-82-00276", "010-1234-5678", "acme", "owner@acme.example.kr",
]  # fmt: skip
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)  # browsers send no surrogates
VALUES = st.one_of(
    st.sampled_from(HOSTILE),
    TEXT,
    st.integers().map(str),
    st.floats().map(str),
    st.uuids().map(str),
    st.dates().map(str),
    st.lists(st.sampled_from(HOSTILE), max_size=3).map(",".join),
)

SERVER_ERROR = 500
Failures = list[tuple[str, Any, int]]


def answered(response: Any, where: str, sent: Any, failures: Failures) -> None:
    if response.status_code >= SERVER_ERROR:
        failures.append((where, sent, response.status_code))


def quiet_client() -> Client:
    """A client that reports a crash as the 500 a browser would get, to be counted."""
    return Client(raise_request_exception=False)


# --- the admin lists --------------------------------------------------------------------

CHANGELIST_KEYS = ["o", "p", "q", "e", "all", "_popup", "_to_field", "_changelist_filters"]
BOGUS_KEYS = ["foo__bar", "id__foo", "pk__in__x", "__", "password", "user__password__startswith"]


def field_lookups(field: models.Field) -> list[str]:
    name = field.name
    keys = [name, f"{name}__exact", f"{name}__in", f"{name}__isnull", f"{name}__gt"]
    keys += [f"{name}__lte", f"{name}__range", f"{name}__icontains", f"{name}__regex"]
    if isinstance(field, models.DateField):  # DateTimeField too
        keys += [f"{name}__year", f"{name}__month", f"{name}__day", f"{name}__date"]
    if field.is_relation:
        keys += [f"{name}__id__exact", f"{name}__pk__in"]
    return keys


def changelist_keys(model_admin: ModelAdmin) -> list[str]:
    """Every parameter name the list could read: its fields' lookups and its own."""
    keys = list(CHANGELIST_KEYS) + BOGUS_KEYS
    for field in model_admin.model._meta.get_fields():
        if isinstance(field, models.Field) and field.concrete:
            keys += field_lookups(field)
    for entry in model_admin.list_filter:
        name = entry[0] if isinstance(entry, tuple | list) else entry
        if isinstance(name, str):
            keys += [name, f"{name}__exact", f"{name}__id__exact", f"{name}__gte"]
    return sorted(set(keys))


def changelists(site_name: str) -> list[tuple[str, list[str]]]:
    site = SITES[site_name][0]
    found = []
    for page in registered_pages():
        if page[0] == site_name and page[2] == "changelist":
            model = next(m for m in site._registry if m._meta.label_lower == page[1])
            found.append((page_url(page), changelist_keys(site._registry[model])))
    return found


def queries(site_name: str) -> st.SearchStrategy[dict[str, str]]:
    keys = sorted({key for _url, names in changelists(site_name) for key in names})
    return st.dictionaries(st.sampled_from(keys), VALUES, min_size=1, max_size=4)


def fuzz_changelists(client: Client, host: str, site_name: str, query: dict[str, str]) -> None:
    failures: Failures = []
    for url, _keys in changelists(site_name):
        answered(client.get(url, query, HTTP_HOST=host), url, query, failures)
    assert failures == []


def fuzz_object_pages(client: Client, host: str, site_name: str, junk: str) -> None:
    failures: Failures = []
    for url, _keys in changelists(site_name):
        for suffix in ("change/", "history/", "delete/"):
            target = f"{url}{quote(junk, safe='')}/{suffix}"
            answered(client.get(target, HTTP_HOST=host), target, junk, failures)
    assert failures == []


@pytest.fixture
def platform_staff(staff_client: Client) -> Client:
    staff_client.raise_request_exception = False
    return staff_client


fuzz_company = module_company("fuzz", removed_afterwards=True)


@pytest.fixture
def company_owner(live_db: None, fuzz_company: CompanyWithUsers) -> Client:
    client = quiet_client()
    response = client.post(
        "/accounts/login/",
        {"username": fuzz_company.owner.email, "password": PASSWORD},
        HTTP_HOST=fuzz_company.host,
    )
    assert response.status_code == 302
    return client


@settings(FUZZ, max_examples=100)
@given(query=queries("platform_admin"))
def test_platform_admin_lists_never_answer_a_server_error(platform_staff, two_companies, query):
    fuzz_changelists(platform_staff, "localhost", "platform_admin", query)


@settings(FUZZ, max_examples=100)
@given(query=queries("company_admin"))
def test_company_admin_lists_never_answer_a_server_error(company_owner, fuzz_company, query):
    fuzz_changelists(company_owner, fuzz_company.host, "company_admin", query)


@settings(FUZZ, max_examples=15)
@given(junk=VALUES)
def test_malformed_object_ids_never_answer_a_server_error(
    platform_staff, company_owner, fuzz_company, junk
):
    fuzz_object_pages(platform_staff, "localhost", "platform_admin", junk)
    fuzz_object_pages(company_owner, fuzz_company.host, "company_admin", junk)


# --- the public forms -------------------------------------------------------------------

FUZZ_BRN = "2118165793"  # valid, used by no other test: a submit that gets through takes it
SIGNUP = {
    "company_name": "퍼즈 주식회사",
    "business_registration_number": FUZZ_BRN,
    "representative_name": "김대표",
    "business_type": "서비스업",
    "address": "서울특별시 중구 세종대로 1",
    "contact_email": "contact@fuzz-signup.example.kr",
    "phone": "010-1234-5678",
    "subdomain": "fuzzsignup",
    "admin_full_name": "이관리",
    "admin_email": "admin@fuzz-signup.example.kr",
    "password1": SIGNUP_PASSWORD,
    "password2": SIGNUP_PASSWORD,
    "terms": "on",
}


def overrides(fields: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """A valid submission with one to four of its fields replaced by generated values."""
    return st.dictionaries(st.sampled_from(fields), VALUES, min_size=1, max_size=4)


@pytest.fixture
def fuzz_signups(live_db: None) -> Iterator[None]:
    yield
    with tenant_context.owner_context():
        Application.objects.filter(business_registration_number=FUZZ_BRN).delete()
        Application.objects.filter(contact_email__endswith="fuzz-signup.example.kr").delete()


@settings(FUZZ, max_examples=60)
@given(
    signup=overrides(sorted(SIGNUP)),
    resend=VALUES,
    token=VALUES,
    language=st.sampled_from(["ko", "en", "xx", "\x00", "ko;q=abc"]),
)
def test_public_forms_never_answer_a_server_error(
    fuzz_signups, two_companies, signup, resend, token, language
):
    client = quiet_client()
    failures: Failures = []
    headers = {"HTTP_HOST": "localhost", "HTTP_ACCEPT_LANGUAGE": language}
    sent = {**SIGNUP, **signup}
    answered(client.post("/signup/", sent, **headers), "/signup/", sent, failures)
    answered(client.get("/signup/", signup, **headers), "/signup/?", signup, failures)
    answered(
        client.post("/signup/resend/", {"email": resend}, **headers), "resend", resend, failures
    )
    link = f"/signup/verify/{quote(token, safe='')}/"
    answered(client.get(link, **headers), link, token, failures)
    answered(client.post(link, **headers), link, token, failures)
    answered(client.get("/", {"next": token}, **headers), "/", token, failures)
    choice = {"language": resend, "next": token}
    answered(client.post("/i18n/setlang/", choice, **headers), "setlang", choice, failures)
    assert failures == []


@settings(FUZZ, max_examples=12)
@given(**dict.fromkeys(("username", "password", "email", "uid", "token", "following"), VALUES))
def test_sign_in_and_password_reset_never_answer_a_server_error(
    live_db, fuzz_company, username, password, email, uid, token, following
):
    client = quiet_client()
    failures: Failures = []
    credentials = {"username": username, "password": password}
    for host, url in [
        ("localhost", "/admin/login/"),
        (fuzz_company.host, "/accounts/login/"),
        (fuzz_company.host, "/admin/login/"),
    ]:
        target = f"{url}?next={quote(following, safe='')}"
        answered(client.post(target, credentials, HTTP_HOST=host), target, credentials, failures)
        answered(client.get(target, HTTP_HOST=host), target, following, failures)
    host = fuzz_company.host
    reset = "/accounts/password/reset/"
    answered(client.post(reset, {"email": email}, HTTP_HOST=host), reset, email, failures)
    link = f"{reset}{quote(uid, safe='')}/{quote(token, safe='')}/"
    answered(client.get(link, HTTP_HOST=host), link, (uid, token), failures)
    assert failures == []


# --- the fixes, one by one --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/registration/application/?status__exact=bogus",
        "/admin/registration/application/?status__in=submitted,bogus",
        "/admin/sysauth/user/?user_type__exact=zzz",
    ],
)
def test_an_unknown_enum_value_in_a_filter_gets_the_admins_invalid_lookup_answer(
    platform_staff, url
):
    response = platform_staff.get(url, HTTP_HOST="localhost")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_an_unknown_enum_value_on_a_company_host_gets_the_same_answer(company_owner, fuzz_company):
    response = company_owner.get(
        "/admin/sysauth/session/?status__exact=zzz", HTTP_HOST=fuzz_company.host
    )
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_an_enum_field_refuses_a_value_outside_its_choices_before_the_database():
    field = Application._meta.get_field("status")
    assert field.get_prep_value("submitted") == "submitted"
    with pytest.raises(ValidationError) as refused:
        field.get_prep_value("bogus")
    assert refused.value.code == "invalid_choice"


@pytest.mark.parametrize(
    ("language", "text"),
    [("ko", "NUL 문자"), ("en", "NUL character")],
)
def test_a_query_string_holding_nul_gets_a_clear_page_in_korean_and_english(
    platform_staff, language, text
):
    response = platform_staff.get(
        "/admin/registration/application/",
        {"company_name": "a\x00b"},
        HTTP_HOST="localhost",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 400
    assert text in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"submitted_at__year": "9" * 30},
        {"submitted_at__range": "2026"},
        {"company_name__regex": "(?<"},
    ],
)
def test_date_drill_downs_ranges_and_bad_patterns_get_a_clear_page(platform_staff, query):
    response = platform_staff.get(
        "/admin/registration/application/", query, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert "Open the page again" in response.content.decode()


def test_the_last_day_of_year_9999_is_an_empty_list_not_an_error(platform_staff):
    # The list filters dates by period (no date hierarchy whose "next day" overflows).
    query = {"submitted_at__year": "9999", "submitted_at__month": "12", "submitted_at__day": "31"}
    response = platform_staff.get(
        "/admin/registration/application/", query, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert 'class="action-select"' not in response.content.decode()


def test_an_action_on_malformed_ids_gets_a_clear_page(platform_staff, two_companies):
    response = platform_staff.post(
        "/admin/tenants/company/",
        {"action": "refresh_figures", "_selected_action": ["1", "abc"]},
        HTTP_HOST="localhost",
    )
    assert response.status_code == 400


def test_a_malformed_verification_run_id_gets_the_admins_not_found_answer(platform_staff):
    response = platform_staff.get(
        "/admin/deployments/verificationrun/abc/change/", HTTP_HOST="localhost"
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_an_unknown_public_address_gets_a_clear_page_in_korean(live_db):
    response = quiet_client().get("/nowhere/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 404
    assert "페이지를 찾을 수 없습니다" in response.content.decode()


def test_a_malformed_operation_id_gets_the_admins_not_found_answer(platform_staff):
    response = platform_staff.get("/admin/deployments/operation/abc/change/", HTTP_HOST="localhost")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
