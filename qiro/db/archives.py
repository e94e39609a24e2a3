"""Archives of ``pg_dump``: their checksum, size and removal, and how many jobs make them.

A backup is a directory archive (``pg_dump -Fd -j``) or, from earlier
versions, one custom-format file; both are handled alike here.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from qiro.db.schema_migrations import default_connections


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """SHA-256 of a file; of a directory archive, over its files in a fixed order.

    For a directory: the SHA-256 of the lines ``<name> <SHA-256 of the file>``,
    one per file, sorted by name (so ``sha256sum`` of the files, sorted, gives
    the same text). A file added, removed, renamed or changed changes it.
    """
    if not path.is_dir():
        return _file_sha256(path)
    lines = "".join(
        f"{entry.relative_to(path).as_posix()} {_file_sha256(entry)}\n"
        for entry in sorted(path.rglob("*"))
        if entry.is_file()
    )
    return hashlib.sha256(lines.encode()).hexdigest()


def size_of(path: Path) -> int:
    if not path.is_dir():
        return path.stat().st_size
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def remove_archive(path: Path) -> None:
    """Delete a backup's file or directory archive."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def dump_jobs() -> int:
    """Parallel ``pg_dump``/``pg_restore`` jobs: the deploy's connections (CPU count)."""
    return default_connections()


def restore_jobs() -> int:
    """Parallel ``pg_restore`` jobs of a test restore or a rollback."""
    return dump_jobs()
