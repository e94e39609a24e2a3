"""Business registration numbers, Korean phone numbers and sub-domains.

Each function normalises its input and raises ``ValidationError`` with a
translated sentence saying what to fix.
"""

from __future__ import annotations

import contextlib
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.kr import brn as stdnum_brn

# --- business registration number (사업자등록번호) ------------------------------------

BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


def brn_check_digit(first_nine: str) -> int:
    """The National Tax Service's check digit of a BRN's first nine digits.

    Weights 1,3,7,1,3,7,1,3,5; plus floor(d9 * 5 / 10); check = (10 - sum mod 10) mod 10.
    """
    digits = [int(c) for c in first_nine]
    total = sum(d * w for d, w in zip(digits, BRN_WEIGHTS, strict=True))
    total += digits[8] * 5 // 10
    return (10 - total % 10) % 10


def normalize_brn(value: str) -> str:
    """``123-45-67890``, ``123 45 67890`` or digits -> ten digits, or ValidationError."""
    compact = re.sub(r"[\s\-.]", "", value or "")
    if not compact.isdigit() or not compact.isascii():
        raise ValidationError(
            _("A business registration number has digits only, e.g. 123-45-67890."),
            code="brn_format",
        )
    if len(compact) != 10:
        raise ValidationError(
            _("A business registration number has 10 digits (e.g. 123-45-67890)."),
            code="brn_length",
        )
    try:
        stdnum_brn.validate(compact)
    except StdnumError as error:
        raise ValidationError(
            _("This is not a business registration number: check the first five digits."),
            code="brn_component",
        ) from error
    if brn_check_digit(compact[:9]) != int(compact[9]):
        raise ValidationError(
            _(
                "The check digit of the business registration number does not match; "
                "please check the number."
            ),
            code="brn_check_digit",
        )
    return compact


def format_brn(digits: str) -> str:
    """Ten digits as ``123-45-67890``."""
    return str(stdnum_brn.format(digits))


# --- phone numbers -------------------------------------------------------------------

MOBILE_RE = re.compile(r"^01[016789]\d{7,8}$")
SEOUL_RE = re.compile(r"^02\d{7,8}$")
AREA_RE = re.compile(r"^0[3-6][1-5]\d{7,8}$")
NATIONWIDE_RE = re.compile(r"^1[568]\d{6}$")  # 1588-1234 and the like
INTERNET_RE = re.compile(r"^070\d{8}$")


def normalize_phone(value: str) -> str:
    """A Korean phone number in its usual dashed form (010-1234-5678, 02-123-4567)."""
    compact = re.sub(r"[\s\-.()]", "", value or "")
    if compact.startswith("+82"):
        compact = "0" + compact[3:].lstrip("0")
    elif compact.startswith("82") and len(compact) >= 11:
        compact = "0" + compact[2:].lstrip("0")
    if not compact.isdigit():
        raise ValidationError(
            _("Enter a Korean phone number, e.g. 010-1234-5678 or 02-123-4567."),
            code="phone_format",
        )
    if SEOUL_RE.match(compact):
        head, rest = compact[:2], compact[2:]
    elif MOBILE_RE.match(compact) or AREA_RE.match(compact) or INTERNET_RE.match(compact):
        head, rest = compact[:3], compact[3:]
    elif NATIONWIDE_RE.match(compact):
        return f"{compact[:4]}-{compact[4:]}"
    else:
        raise ValidationError(
            _("Enter a Korean phone number, e.g. 010-1234-5678 or 02-123-4567."),
            code="phone_format",
        )
    return f"{head}-{rest[:-4]}-{rest[-4:]}"


# --- sub-domains -------------------------------------------------------------------

SUBDOMAIN_RE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
RESERVED_SUBDOMAINS = frozenset(
    {
        "admin", "api", "app", "apps", "assets", "auth", "billing", "blog", "cdn", "dashboard",
        "dev", "docs", "ftp", "help", "imap", "info", "information-schema", "localhost", "login",
        "mail", "media", "ns1", "ns2", "platform", "pop", "pop3", "public", "qiro", "root",
        "signup", "smtp", "staging", "static", "status", "support", "test", "www",
    }
)  # fmt: skip
# Prefixes that would collide with PostgreSQL's or the platform's own schemas.
RESERVED_PREFIXES = ("pg-", "qiro-")


def normalize_subdomain(value: str) -> str:
    """A lower-case DNS label usable as a company's host and schema name."""
    label = (value or "").strip().lower()
    if not SUBDOMAIN_RE.match(label) or "--" in label:
        raise ValidationError(
            _(
                "Use 1 to 63 lower-case letters, digits and single hyphens, starting with "
                "a letter and not ending with a hyphen."
            ),
            code="subdomain_format",
        )
    if label in RESERVED_SUBDOMAINS or label.startswith(RESERVED_PREFIXES):
        raise ValidationError(
            _("This sub-domain is reserved; please choose another."), code="subdomain_reserved"
        )
    return label


def schema_name_for(subdomain: str) -> str:
    """The company's schema name: the sub-domain with hyphens as underscores (one-to-one)."""
    return subdomain.replace("-", "_")


def host_for(subdomain: str) -> str:
    return f"{subdomain}.{settings.BASE_DOMAIN}"


def subdomain_candidates(company_name: str, brn: str) -> list[str]:
    """Sub-domains to suggest, best first: from the Latin letters of the name, else the BRN."""
    base = slugify(company_name)[:40].strip("-")
    candidates = []
    if base and base[0].isalpha():
        with contextlib.suppress(ValidationError):
            candidates.append(normalize_subdomain(base))
    candidates.append(f"biz-{brn}")
    first = candidates[0]
    candidates += [f"{first}-{n}" for n in range(2, 10)]
    return candidates
