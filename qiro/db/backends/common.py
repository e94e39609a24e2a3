"""What the owner and runtime backends share."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class EmbeddedServerMixin:
    """Start the embedded server on first connect when no DATABASE_URL is set.

    The socket folder is only known once the server runs, so it is filled in
    here rather than in settings (which must import without side effects).
    """

    settings_dict: dict[str, Any]

    def get_connection_params(self) -> dict[str, Any]:
        data_dir = self.settings_dict.get("QIRO_EMBEDDED_DATA_DIR")
        if data_dir:
            from qiro import embedded

            self.settings_dict["HOST"] = str(embedded.ensure_server(Path(data_dir)))
        return super().get_connection_params()  # type: ignore[misc]
