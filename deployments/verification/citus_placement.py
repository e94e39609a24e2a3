"""On Citus: the public tables are placed as declared (``qiro.db.citus``).

The declared reference tables are copied to every node; every other public
table stays on the coordinator as a Citus local (or plain) table, never
distributed. Off Citus the check says it has nothing to look at.
"""

from __future__ import annotations

from typing import Any

from deployments.verification.base import FAIL, PASS, PUBLIC, SKIP, Check, Result
from qiro.db import citus


class CitusPlacementCheck(Check):
    name = "citus_placement"

    def query(self, verifier: Any, declared: Any) -> list[str] | None:
        with verifier.conn.cursor() as cursor:
            if not citus.is_citus(cursor):
                return None
            return citus.placement_problems(cursor)

    def findings(self, verifier: Any, declared: Any, rows: list[str] | None) -> list[Result]:
        if rows is None:
            return [Result(self.name, "", SKIP, "", "not a Citus server")]
        expected = f"reference: {', '.join(citus.REFERENCE_TABLES)}; the rest local"
        if not rows:
            return [Result(self.name, PUBLIC, PASS, expected, "as declared")]
        return [Result(self.name, PUBLIC, FAIL, expected, "; ".join(rows))]
