"""Concurrent sign-ups: the database, not the form, lets exactly one win."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from registration import services
from registration.models import Application
from tests.registration.factories import PASSWORD, signup_data, unique_label, valid_brn

SIGNUPS = 50


def race(datas: list[services.SignupData]) -> list[object]:
    """Submit every sign-up at once, each thread on its own database connection."""
    barrier = threading.Barrier(len(datas))
    results: list[object] = [None] * len(datas)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = services.submit_application(
                data=datas[index], password=PASSWORD, verify_url=lambda t: f"http://x/{t}/"
            )
        except Exception as error:  # each outcome is checked below
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(datas))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("shared", ["business_registration_number", "subdomain"])
def test_fifty_concurrent_sign_ups_with_one_brn_or_sub_domain_make_one_application(
    live_db, shared, settings
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    brn, subdomain = valid_brn(), unique_label("race")
    same_brn = shared == "business_registration_number"
    datas = [
        signup_data(
            business_registration_number=brn if same_brn else valid_brn(),
            subdomain=unique_label("race") if same_brn else subdomain,
        )
        for _ in range(SIGNUPS)
    ]
    results = race(datas)

    winners = [r for r in results if isinstance(r, Application)]
    losers = [r for r in results if isinstance(r, services.SignupConflict)]
    assert len(winners) == 1, [r for r in results if not isinstance(r, Application)][:3]
    others = [r for r in results if not isinstance(r, (Application, services.SignupConflict))]
    assert len(losers) == SIGNUPS - 1, others[:3]
    assert {loser.field for loser in losers} == {shared}
    assert all(str(loser.message) for loser in losers)
    stored = Application.objects.using("owner").filter(**{shared: getattr(datas[0], shared)})
    assert stored.count() == 1
