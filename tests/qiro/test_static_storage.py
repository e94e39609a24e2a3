"""Static addresses kept per name are the manifest's own, and follow a new manifest."""

from __future__ import annotations

from pathlib import Path

from django.core.files.storage import FileSystemStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage

from qiro.static_storage import StaticStorage


def collect(source: Path, target: Path, storage: StaticStorage, text: str) -> None:
    """What collectstatic does for one file: copy it, then hash it into the manifest."""
    (source / "site.css").write_text(text)
    (target / "site.css").write_text(text)
    found = FileSystemStorage(location=source)
    for _ in storage.post_process({"site.css": (found, "site.css")}, dry_run=False):
        pass


def test_a_kept_address_is_the_manifest_s_and_follows_a_new_one(tmp_path, settings):
    settings.DEBUG = False
    source, target = tmp_path / "source", tmp_path / "static"
    source.mkdir()
    target.mkdir()
    storage = StaticStorage(location=target, base_url="/static/")
    collect(source, target, storage, "body { color: black }")
    first = storage.url("site.css")
    plain = CompressedManifestStaticFilesStorage(location=target, base_url="/static/")
    assert first == plain.url("site.css") != "/static/site.css"
    assert storage.url("site.css") == first

    collect(source, target, storage, "body { color: navy }")
    assert storage.url("site.css") != first
    assert storage.url("site.css") == (
        CompressedManifestStaticFilesStorage(location=target, base_url="/static/").url("site.css")
    )
