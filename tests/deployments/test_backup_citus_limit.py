"""On Citus the backup pages say what a coordinator's backup does not hold; elsewhere nothing."""

from __future__ import annotations

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
