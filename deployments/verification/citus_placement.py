"""On Citus: the public tables are placed as declared (``qiro.db.citus``).

The declared reference tables are copied to every node; every other public
table stays on the coordinator as a Citus local (or plain) table, never
distributed. Off Citus the check says it has nothing to look at.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop as N_

from deployments.verification.base import FAIL, PASS, PUBLIC, SKIP, Check, Result, text
from qiro.db import citus
from qiro.stored_text import said


class CitusPlacementCheck(Check):
    name = "citus_placement"
    title = N_("Citus placement of the public tables")

    def query(self, verifier: Any, declared: Any) -> list[str] | None:
        with verifier.conn.cursor() as cursor:
            if not citus.is_citus(cursor):
                return None
            return citus.placement_problems(cursor)

    def findings(self, verifier: Any, declared: Any, rows: list[str] | None) -> list[Result]:
        if rows is None:
            return [Result(self.name, "", SKIP, "", text(said(N_("not a Citus server"))))]
        expected = text(
            said(N_("reference: %(tables)s; the rest local"), tables=list(citus.REFERENCE_TABLES))
        )
        if not rows:
            return [Result(self.name, PUBLIC, PASS, expected, text(said(N_("as declared"))))]
        return [Result(self.name, PUBLIC, FAIL, expected, text(rows))]
