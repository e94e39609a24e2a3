"""BRN, phone and sub-domain rules, with property tests for the BRN check digit."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from tenants.validators import (
    brn_check_digit,
    format_brn,
    normalize_brn,
    normalize_phone,
    normalize_subdomain,
    subdomain_candidates,
)

# Components stdnum accepts: tax office >= 101, type != 00, serial != 0000.
first_nine = st.builds(
    lambda office, kind, serial: f"{office:03d}{kind:02d}{serial:04d}",
    st.integers(101, 999),
    st.integers(1, 99),
    st.integers(1, 9999),
)


def test_known_numbers():
    assert normalize_brn("116-82-00276") == "1168200276"
    with pytest.raises(ValidationError) as error:
        normalize_brn("1234567890")  # stdnum alone accepts it
    assert error.value.code == "brn_check_digit"


@given(first_nine)
def test_a_number_with_its_check_digit_is_accepted_with_or_without_dashes(nine):
    brn = nine + str(brn_check_digit(nine))
    assert normalize_brn(brn) == brn
    assert normalize_brn(format_brn(brn)) == brn
    assert format_brn(brn) == f"{brn[:3]}-{brn[3:5]}-{brn[5:]}"


@given(first_nine, st.integers(1, 9))
def test_every_wrong_check_digit_is_rejected(nine, offset):
    wrong = (brn_check_digit(nine) + offset) % 10
    with pytest.raises(ValidationError) as error:
        normalize_brn(nine + str(wrong))
    assert error.value.code == "brn_check_digit"


@given(st.text(alphabet="0123456789", min_size=0, max_size=20).filter(lambda s: len(s) != 10))
def test_wrong_lengths_are_rejected(digits):
    with pytest.raises(ValidationError):
        normalize_brn(digits)


@given(st.text(min_size=1, max_size=12).filter(lambda s: any(c.isalpha() for c in s)))
def test_letters_are_rejected(text):
    with pytest.raises(ValidationError) as error:
        normalize_brn(text)
    assert error.value.code in {"brn_format", "brn_length"}


def test_the_check_digit_rule_of_the_national_tax_service():
    # 1,1,6,8,2,0,0,2,7 * 1,3,7,1,3,7,1,3,5 = 1+3+42+8+6+0+0+6+35 = 101; + 7*5//10 = 3 -> 104
    assert brn_check_digit("116820027") == (10 - 104 % 10) % 10 == 6


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("010-1234-5678", "010-1234-5678"),
        ("01012345678", "010-1234-5678"),
        ("+82 10-1234-5678", "010-1234-5678"),
        ("02-123-4567", "02-123-4567"),
        ("0212345678", "02-1234-5678"),
        ("031 123 4567", "031-123-4567"),
        ("1588-1234", "1588-1234"),
        ("070-1234-5678", "070-1234-5678"),
    ],
)
def test_korean_phone_numbers_are_normalised(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "phone", "010-12", "+1 415 555 0100"])
def test_other_phone_numbers_are_rejected(raw):
    with pytest.raises(ValidationError):
        normalize_phone(raw)


@pytest.mark.parametrize("label", ["acme", "a", "han-bit-2", "x" * 63])
def test_valid_sub_domains(label):
    assert normalize_subdomain(label.upper()) == label


@pytest.mark.parametrize(
    "label",
    ["www", "admin", "api", "public", "pg-catalog", "qiro-pool-1", "information-schema",
     "-acme", "acme-", "ac--me", "1acme", "ac_me", "한빛", "x" * 64, ""],
)  # fmt: skip
def test_invalid_or_reserved_sub_domains_are_refused(label):
    with pytest.raises(ValidationError):
        normalize_subdomain(label)


def test_suggestions_come_from_latin_letters_or_the_brn():
    assert subdomain_candidates("Hanbit Soft 주식회사", "1168200276")[0] == "hanbit-soft"
    assert subdomain_candidates("한빛 소프트", "1168200276")[0] == "biz-1168200276"
