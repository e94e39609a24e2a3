"""Pluggable BRN status verifiers (e.g. the National Tax Service's business status API).

A verifier answers whether a business is registered and operating. The
default checks nothing remotely and says so: the application's BRN status
stays ``pending`` and the reviewer sees that no remote check was made.
Set ``QIRO_BRN_STATUS_VERIFIER`` to a dotted path of a subclass to plug one in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from registration.models import VerificationStatus


@dataclass(frozen=True)
class BrnStatus:
    """What a verifier found.

    status:     ``verified`` (operating), ``rejected`` (closed or unknown to the
                authority) or ``pending`` (no remote check was made).
    checked_by: who answered, shown to reviewers; empty when nobody did.
    detail:     the authority's words, if any.
    """

    status: str
    checked_by: str = ""
    detail: str = ""


class BrnStatusVerifier:
    """Base class. A verifier implements ``check``; the number is already valid.

    ``check`` must not raise for a business it cannot find (return
    ``rejected``); on a network failure it returns ``pending`` so that the
    reviewer decides, never a guessed ``verified``.
    """

    name = "none"

    def check(self, brn: str) -> BrnStatus:
        raise NotImplementedError


class FormatOnlyVerifier(BrnStatusVerifier):
    """The default: format and check digit were validated by the form; no remote check."""

    name = "format-only"

    def check(self, brn: str) -> BrnStatus:
        return BrnStatus(status=VerificationStatus.PENDING)


@cache
def _verifier_class(path: str) -> type[BrnStatusVerifier]:
    cls = import_string(path)
    if not (isinstance(cls, type) and issubclass(cls, BrnStatusVerifier)):
        raise TypeError(f"{path} is not a BrnStatusVerifier")
    return cls


def get_verifier() -> BrnStatusVerifier:
    return _verifier_class(settings.QIRO_BRN_STATUS_VERIFIER)()
