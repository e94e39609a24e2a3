"""A company's host names: valid DNS names, never taken twice, exactly one primary.

Every change of a company's domains goes through these services; the platform
admin's company page calls them. A host is either one label under
``QIRO_BASE_DOMAIN`` (``acme.localhost``), following the sign-up's rules for
sub-domains (format, reserved names), or a full domain name of the company's
own (``www.example.co.kr``; Korean names are stored in their ASCII form,
``xn--…``), which is what browsers send. The platform's own host names are
never a company's.

Changes of one company's domains are serialised by a lock on its row, so two
staff members cannot leave it with two primaries or none; the unique index on
``tenants_domain.domain`` decides between two companies taking one name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils.translation import gettext_lazy as _

from qiro.middleware import is_public_host
from qiro.tenant_context import PLATFORM_ALIAS, platform_context
from tenants.models import Company, Domain
from tenants.validators import normalize_subdomain

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

MAX_HOST_LENGTH = 253  # RFC 1035, and the column's length
LABEL_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
TOP_LEVEL_RE = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


def _invalid(message: StrOrPromise, code: str, **params: str) -> ValidationError:
    """A refusal whose message is translated when it is shown, in the reader's language."""
    return ValidationError(message, code=code, params=params)


def normalize_domain(value: str) -> str:
    """The host name in lower-case ASCII, or a ``ValidationError`` saying what is wrong."""
    host = (value or "").strip().rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        host = ""  # an empty label, a label past 63 characters, characters IDNA refuses
    labels = host.split(".")
    if (
        not host
        or len(host) > MAX_HOST_LENGTH
        or not all(LABEL_RE.fullmatch(label) for label in labels)
    ):
        raise _invalid(
            _(
                "Enter a host name such as acme.%(base)s or www.example.co.kr: letters, "
                "digits and hyphens, in labels of up to 63 characters separated by dots."
            ),
            "domain_format",
            base=settings.BASE_DOMAIN,
        )
    base = settings.BASE_DOMAIN.lower()
    if host == base or is_public_host(host):
        raise _invalid(_("This is the platform's own address, not a company's."), "domain_platform")
    if host.endswith(f".{base}"):
        label = host[: -len(base) - 1]
        if "." in label:
            raise _invalid(
                _("Under %(base)s a company's address has one label only, e.g. acme.%(base)s."),
                "domain_depth",
                base=base,
            )
        normalize_subdomain(label)  # the sign-up's rules: format and reserved names
    elif len(labels) < 2 or not TOP_LEVEL_RE.fullmatch(labels[-1]):
        raise _invalid(
            _("Enter a full domain name that ends in a real top-level domain, e.g. example.co.kr."),
            "domain_not_fqdn",
        )
    return host


# Sent before a company takes a sub-domain of the base domain (kwargs:
# ``subdomain``, ``company``). A receiver answers True when something other
# than a domain row holds it for another company, e.g. a pending sign-up
# (``registration.selectors.subdomain_held_by_application``).
subdomain_claimed = Signal()


def check_domain_free(*, domain: str, company: Company, keep: Iterable[int] = ()) -> None:
    """Refuse a host that another domain row, or another company's application, holds.

    ``keep``: ids of domain rows the caller is changing (their own names do not count).
    """
    if Domain.objects.filter(domain=domain).exclude(pk__in=list(keep)).exists():
        raise _invalid(
            _("The address %(domain)s is already in use."), "domain_taken", domain=domain
        )
    base = settings.BASE_DOMAIN.lower()
    if domain.endswith(f".{base}"):
        answers = subdomain_claimed.send(
            sender=Company, subdomain=domain[: -len(base) - 1], company=company
        )
        if any(held for _receiver, held in answers):
            raise _invalid(
                _("The address %(domain)s is reserved by an application for a new company."),
                "domain_reserved",
                domain=domain,
            )


def _locked(company: Company) -> Company:
    """The company's row, locked until the end of the transaction: one domain change at a time."""
    return Company.objects.select_for_update().get(pk=company.pk)


def _write(domain: Domain) -> Domain:
    try:
        with transaction.atomic(using=PLATFORM_ALIAS):
            domain.save(using=PLATFORM_ALIAS)
    except IntegrityError as error:  # taken at the same moment by someone else
        raise _invalid(
            _("The address %(domain)s is already in use."), "domain_taken", domain=domain.domain
        ) from error
    return domain


def add_domain(*, company: Company, domain: str, is_primary: bool = False) -> Domain:
    """Give ``company`` another host name; the first one, or one marked so, becomes primary.

    ``DomainMixin.save`` makes a company's first domain primary and un-marks the
    former primary when another becomes so, inside this transaction and lock.
    """
    name = normalize_domain(domain)
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS):
        company = _locked(company)
        check_domain_free(domain=name, company=company)
        return _write(Domain(domain=name, tenant=company, is_primary=is_primary))


def change_domain(
    *, domain: Domain, name: str | None = None, is_primary: bool | None = None
) -> Domain:
    """Rename a host name or make it the primary one (the former primary stops being so).

    A primary domain is not un-marked by itself: another one is made primary instead.
    """
    new_name = normalize_domain(name) if name is not None else domain.domain
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS):
        company = _locked(domain.tenant)
        current = Domain.objects.get(pk=domain.pk, tenant=company)
        if new_name != current.domain:
            check_domain_free(domain=new_name, company=company, keep=[current.pk])
        if is_primary is False and current.is_primary:
            raise _invalid(
                _("A company keeps one primary domain: make another domain primary instead."),
                "domain_primary_needed",
            )
        current.domain = new_name
        current.is_primary = current.is_primary or bool(is_primary)
        return _write(current)  # a new primary un-marks the former one (DomainMixin.save)


def remove_domain(*, domain: Domain) -> None:
    """Take a host name from its company; never the primary one (make another primary first)."""
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS):
        _locked(domain.tenant)
        current = Domain.objects.filter(pk=domain.pk).first()
        if current is None:
            return
        if current.is_primary:
            raise _invalid(
                _(
                    "%(domain)s is the company's primary domain: make another domain primary "
                    "before removing it."
                ),
                "domain_primary_needed",
                domain=current.domain,
            )
        current.delete()
