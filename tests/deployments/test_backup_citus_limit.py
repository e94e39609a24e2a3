"""On Citus the backup pages say what a coordinator's backup lacks, and a restore refuses it."""

from __future__ import annotations

import pytest

from deployments import backups, scratch_restore
from qiro.db import pg
from qiro.db.citus import connection_is_citus

BACKUPS = "/admin/deployments/backup/"
LIMIT = "no company rows"


def test_the_backup_pages_state_the_limit_only_on_citus(staff_client):
    on_citus = connection_is_citus("owner")
    for url in (BACKUPS, BACKUPS + "start/"):
        page = staff_client.get(url, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
        assert page.status_code == 200
        assert (LIMIT in page.content.decode()) == on_citus, url


def test_the_limit_is_said_in_korean_too(staff_client):
    page = staff_client.get(BACKUPS, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko")
    assert page.status_code == 200
    if connection_is_citus("owner"):
        assert "회사 데이터 행" in page.content.decode()


@pytest.mark.usefixtures("in_english")
def test_on_citus_a_test_restore_is_refused_before_it_starts(platform, backup_dir):
    if not connection_is_citus("owner"):
        pytest.skip("plain PostgreSQL restores archives (test_backups.py, test_restore_batches.py)")
    backup = backups.create_backup()
    with pytest.raises(backups.BackupError, match="Citus cluster, where an archive is not"):
        scratch_restore.run_test_restore(backup=backup)
    backup.refresh_from_db()
    assert backup.test_restore_ok is None, "not known to be bad: nothing is recorded"
    with pg.connect("postgres") as conn:
        made = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            [f"{backup.database_name}_restore_%"],
        ).fetchall()
    assert made == [], "refused before the scratch database was made"
