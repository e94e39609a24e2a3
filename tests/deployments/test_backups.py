"""Backups round-trip, corrupted files are refused, restores need their confirmation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from deployments import backups, leases, scratch_restore
from deployments.models import Backup
from deployments.services import run_verification
from qiro import tenant_context
from qiro.db import pg
from sysauth.models import User
from tests.conftest import english, make_company

from .conftest import fingerprints


@pytest.fixture(scope="module")
def restorable(django_db_setup, django_db_blocker):
    """A company whose schema is backed up and restored over."""
    with django_db_blocker.unblock():
        return make_company("dprestore", "1048109939", "복원 대상").company


def checksum_lines(folder: Path) -> str:
    """What ``sha256sum`` prints for the archive's files, sorted by name."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return "".join(
        f"{p.relative_to(folder).as_posix()} {hashlib.sha256(p.read_bytes()).hexdigest()}\n"
        for p in files
    )


def test_whole_database_backup_records_what_a_restore_needs(platform, backup_dir, two_companies):
    backup = backups.create_backup()
    path = Path(backup.file_path)
    assert backup.status == Backup.Status.OK
    assert path.parent == backup_dir
    assert path.is_dir(), "a directory archive, written by parallel jobs"
    assert (path / "toc.dat").is_file()
    assert sum(p.stat().st_size for p in path.iterdir()) == backup.size_bytes
    assert backup.sha256 == hashlib.sha256(checksum_lines(path).encode()).hexdigest()
    assert backup.server_version
    assert backup.pg_dump_version.startswith("pg_dump (PostgreSQL)")
    assert {"public", "acme", "beta"} <= set(backup.schemas)
    assert backup.entry_count
    assert backup.entry_count > 50
    assert backup.row_counts["acme.sysauth_user"] == 2
    assert backup.duration_seconds is not None


@pytest.mark.usefixtures("restores_from_a_dump")
def test_backup_then_test_restore_loses_nothing(platform, backup_dir, two_companies):
    backup = backups.create_backup()
    backup = scratch_restore.run_test_restore(backup=backup)
    assert backup.test_restore_ok, backup.test_restore_report
    assert "row counts equal" in english(backup.test_restore_report)
    assert "verification: passed" in english(backup.test_restore_report)
    scratch_restore.wait_for_drops()
    with pg.connect("postgres") as conn:
        scratch = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE %s", [f"%_restore_{backup.pk}"]
        ).fetchone()
    assert scratch == (0,), "the scratch database is dropped afterwards"


def test_a_corrupted_backup_is_refused(platform, backup_dir, restorable):
    backup = backups.create_backup(company_schema="dprestore")
    with open(Path(backup.file_path) / "toc.dat", "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(backups.BackupError, match="SHA-256"):
        scratch_restore.run_test_restore(backup=backup)
    with pytest.raises(backups.BackupError, match="SHA-256"):
        backups.restore_live(backup=backup, confirmation="dprestore")


def test_a_backup_missing_one_of_its_files_is_refused(platform, backup_dir, restorable):
    backup = backups.create_backup(company_schema="dprestore")
    data = sorted(p for p in Path(backup.file_path).iterdir() if p.name != "toc.dat")
    assert data, "the archive holds the table data beside its table of contents"
    data[0].unlink()
    with pytest.raises(backups.BackupError, match="SHA-256"):
        backups.restore_live(backup=backup, confirmation="dprestore")


@pytest.mark.usefixtures("restores_from_a_dump")
def test_live_restore_of_one_company_needs_the_slug_and_leaves_others_alone(
    platform, backup_dir, two_companies, restorable
):
    before = fingerprints(schemas=["dprestore"])
    backup = backups.create_backup(company_schema="dprestore")
    with tenant_context.company_context(restorable):
        User.objects.create_user("late@dprestore.example.kr", "x-long-password-1")
        User.objects.filter(email__startswith="member@").update(full_name="바뀐 이름")
    with tenant_context.company_context(two_companies[0].company):
        User.objects.create_user("meanwhile@acme.example.kr", "x-long-password-2")
    others = fingerprints(schemas=["public", "acme", "beta"])
    assert fingerprints(schemas=["dprestore"]) != before

    with pytest.raises(backups.BackupError, match="dprestore"):
        backups.restore_live(backup=backup, confirmation="acme")
    backups.restore_live(backup=backup, confirmation="dprestore")

    assert fingerprints(schemas=["dprestore"]) == before
    assert fingerprints(schemas=["public", "acme", "beta"]) == others
    assert run_verification(observations=False).failed == 0  # rights as declared, RLS forced
    with tenant_context.company_context(restorable):
        assert User.objects.filter(email="late@dprestore.example.kr").count() == 0
        assert User.objects.count() == 2
    # acme is the whole session's company: other tests count its users.
    with tenant_context.company_context(two_companies[0].company):
        User.objects.filter(email="meanwhile@acme.example.kr").delete()


def test_retention_keeps_the_newest_and_the_only_verified_backup(platform, backup_dir, restorable):
    Backup.objects.all().delete()
    made = [backups.create_backup(company_schema="dprestore") for _ in range(3)]
    Backup.objects.filter(pk=made[0].pk).update(test_restore_ok=True)
    deleted = backups.apply_retention(keep=1)
    assert deleted == [made[1].pk]
    assert set(Backup.objects.values_list("pk", flat=True)) == {made[0].pk, made[2].pk}
    assert not Path(made[1].file_path).exists()
    assert Path(made[0].file_path).exists()


def test_a_missing_pg_dump_is_said_clearly(platform, backup_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(pg, "_candidate_dirs", lambda: [tmp_path])
    with pytest.raises(pg.ToolNotFound, match="pg_dump"):
        backups.create_backup()
    failed = Backup.objects.latest("pk")
    assert failed.status == Backup.Status.FAILED
    assert "pg_dump" in failed.error


@pytest.mark.usefixtures("restores_from_a_dump")
def test_the_commands_back_up_test_restore_and_refuse_an_unconfirmed_restore(
    live_db, backup_dir, restorable, capsys
):
    call_command("backup", "--company", "dprestore")
    with tenant_context.platform_context():
        backup = Backup.objects.latest("pk")
    assert backup.company_schema == "dprestore"
    assert f"Backup #{backup.pk}" in capsys.readouterr().out
    call_command("restore", str(backup.pk), "--test")
    assert "row counts equal" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--confirm dprestore"):
        call_command("restore", str(backup.pk), "--confirm", "acme")


def test_a_partial_directory_dump_is_removed_and_nothing_outside_the_backup_dir(
    backup_dir, tmp_path
):
    partial = backup_dir / "qiro-all-20260101T000000Z-9.dumpdir"
    partial.mkdir(parents=True)
    (partial / "toc.dat").write_bytes(b"half")
    (partial / "4242.dat.gz").write_bytes(b"rows")
    elsewhere = tmp_path / "elsewhere.dumpdir"
    elsewhere.mkdir()
    (elsewhere / "toc.dat").write_bytes(b"keep")

    leases.remove_partial_dump(str(partial))
    leases.remove_partial_dump(str(elsewhere))

    assert not partial.exists()
    assert (elsewhere / "toc.dat").read_bytes() == b"keep"
