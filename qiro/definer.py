"""Functions the runtime roles may call to do what their table rights do not allow.

A function is declared once, here or next to the rows it serves (e.g.
``registration.policies.SIGNUP_FUNCTIONS``); the migration that installs it
holds a frozen copy of its SQL, and verification
(``deployments.verification.definer_functions``) compares the live function with the
declaration: body, ``SECURITY DEFINER``, owner, pinned ``search_path`` and who
may execute it. Limits and secrets come from ``public.qiro_server_settings``,
never from the caller's arguments.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# Every function of the project runs with this search_path, so a caller's
# objects (in pg_temp or any schema) can never shadow what the body uses.
PINNED_SEARCH_PATH = "search_path=pg_catalog, pg_temp"


@dataclass(frozen=True)
class DeclaredFunction:
    """A function in ``public``: its identity, result, body and who may execute it.

    ``signature`` is the regprocedure form (``name(type, type)``); ``execute``
    names runtime roles by kind (``"app"``, ``"platform"``); nobody else, and not
    PUBLIC, may execute it. ``security_definer`` False marks a helper that only
    the owner (hence only the definer functions) can call.
    """

    signature: str
    result: str
    body: str
    execute: tuple[str, ...] = ()
    security_definer: bool = True

    @property
    def name(self) -> str:
        return self.signature.split("(", 1)[0]

    @property
    def body_md5(self) -> str:
        return hashlib.md5(self.body.encode(), usedforsecurity=False).hexdigest()
