"""Sizes and durations in the admin's lists read as words, in Korean first."""

from __future__ import annotations

import pytest
from django.utils import translation

from deployments.models import Backup
from qiro import tenant_context
from qiro.admin_display import duration_text, size_text


@pytest.mark.parametrize(
    ("seconds", "korean", "english"),
    [
        (None, "—", "—"),
        (0.4, "0.4초", "0.4 s"),
        (2.146413928000129, "2.1초", "2.1 s"),
        (42.6, "43초", "43 s"),
        (192.2, "3분 12초", "3 min 12 s"),
        (3900, "1시간 5분", "1 h 5 min"),
    ],
)
def test_durations_read_as_people_say_them(seconds, korean, english):
    with translation.override("ko"):
        assert duration_text(seconds) == korean
    with translation.override("en"):
        assert duration_text(seconds) == english


def test_the_backups_list_shows_sizes_and_durations_not_raw_numbers(staff_client, live_db):
    with tenant_context.owner_context():
        backup = Backup.objects.create(
            scope=Backup.Scope.DATABASE, database_name="qiro", status=Backup.Status.OK,
            size_bytes=291_379, duration_seconds=2.146413928000129,
        )  # fmt: skip
    try:
        page = staff_client.get(
            "/admin/deployments/backup/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko"
        ).content.decode()
        row = page[page.index(f"/admin/deployments/backup/{backup.pk}/") :]
        row = row[: row.index("</tr>")]
        assert size_text(291_379) in row
        assert "2.1초" in row
        assert "291379" not in row
        assert "2.146" not in row
        assert "크기(바이트)" not in page  # the header names the column without its unit
    finally:
        with tenant_context.owner_context():
            backup.delete()


def test_names_that_carry_a_time_give_it_in_the_sites_zone():
    import datetime as dt

    made = dt.datetime(2026, 12, 1, 7, 11, tzinfo=dt.UTC)
    backup = Backup(company_schema="acme", created_at=made)
    assert str(backup) == "acme @ 2026-12-01 16:11"  # Asia/Seoul, as every other time shown
