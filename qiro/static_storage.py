"""Static files as in production (hashed, compressed), with each name's address worked out once.

``{% static %}`` asks the storage for an address on every use: the admin's
boolean icons ask once per row and column, and each answer parses the name,
looks it up in the manifest and quotes it again. The manifest does not change
while a process serves, so the address of a name is kept after its first use
(and forgotten when ``collectstatic`` writes a new manifest).
"""

from __future__ import annotations

from typing import Any

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._addresses: dict[str, str] = {}

    def url(self, name: str | None, force: bool = False) -> str:
        if force or name is None:
            return super().url(name, force)
        try:
            return self._addresses[name]
        except KeyError:
            address = self._addresses[name] = super().url(name)
            return address

    def save_manifest(self) -> None:
        """``collectstatic`` wrote new names: forget the old addresses."""
        super().save_manifest()
        self._addresses.clear()
