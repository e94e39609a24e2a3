"""What every check shares: results, the schemas in scope, and the shape of a check.

A check is a class with a ``name`` and three steps: ``declared`` (what the
code expects), ``query`` (one set-based catalog read for every schema at
once) and ``findings`` (results from the two). The registry is
``deployments.verification.CHECKS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from django.db import models
from django.utils.translation import gettext_noop as N_
from psycopg import sql

from qiro import stored_text
from qiro.expectations import Expectation, declared_expectations, model_scope
from qiro.stored_text import Message, said

if TYPE_CHECKING:
    from deployments.verification import Verifier

PASS, FAIL, SKIP, INFO = "pass", "fail", "skip", "info"
PUBLIC = "public"
COMPANY = "company"
T = TypeVar("T", bound=Expectation)

# All schemas in scope, with the scope they belong to; %s = company schema names.
WITH_SCHEMAS = sql.SQL(
    "WITH schemas(nspname, scope) AS ("
    " SELECT 'public'::text, 'public'::text"
    " UNION ALL SELECT s, 'company' FROM unnest(%s::text[]) s)"
)


def with_schemas(body: str | sql.Composable) -> sql.Composed:
    """A query whose first CTE is ``schemas`` (its parameter: the company schemas)."""
    return sql.Composed([WITH_SCHEMAS, sql.SQL(body) if isinstance(body, str) else body])


@dataclass(frozen=True)
class Result:
    """One finding; ``expected`` and ``found`` are stored text (``qiro.stored_text``)."""

    check: str
    schema: str
    outcome: str
    expected: str = ""
    found: str = ""


def text(value: Message | Sequence[Message | str] | str) -> str:
    """What a result stores of a message, of several, or of a server's own words."""
    return value if isinstance(value, str) else stored_text.stored(value)


def about(what: str, problem: Message | str) -> Message:
    """ "<what>: <problem>", e.g. a table and what is wrong with it."""
    return said(N_("%(what)s: %(problem)s"), what=what, problem=problem)


# Words the catalog queries return, as the messages they read as.
WORDS = {
    "missing": N_("missing"), "invalid": N_("invalid"), "not validated": N_("not validated"),
}  # fmt: skip


def word(value: str) -> Message | str:
    return said(WORDS[value]) if value in WORDS else value


def declared_of(kind: type[T]) -> list[tuple[str, str, T]]:
    """(scope, table, expectation) of every declared expectation of one kind."""
    return [
        (scope, d.table, d.expectation)
        for d in declared_expectations()
        if isinstance(d.expectation, kind)
        for scope, wanted in ((PUBLIC, d.in_public), (COMPANY, d.in_companies))
        if wanted
    ]


def scopes(model: type[models.Model]) -> list[str]:
    in_public, in_companies = model_scope(model)
    return ([PUBLIC] if in_public else []) + ([COMPANY] if in_companies else [])


def columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """The ``width`` columns of declared rows, as arrays for ``unnest`` (one per column)."""
    return [[row[i] for row in rows] for i in range(width)]


def declared_rows(
    verifier: Verifier,
    body: str | sql.Composable,
    declared: list[tuple[Any, ...]],
    width: int,
    *more: Any,
) -> list[Any]:
    """The rows of ``body`` after the ``schemas`` CTE, read against what is declared.

    Its parameters: the company schemas, the ``width`` columns of ``declared``
    (for its ``declared`` CTE's ``unnest``), then ``more``.
    """
    return verifier.rows(with_schemas(body), [verifier.companies, *columns(declared, width), *more])


class Check:
    """Declared → query → findings. ``skip`` is said when nothing is declared.

    ``title`` names the check for people (a message id, read in their language).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    skip: ClassVar[str] = ""

    def declared(self, verifier: Verifier) -> Any:
        return None

    def query(self, verifier: Verifier, declared: Any) -> Any:
        return None

    def findings(self, verifier: Verifier, declared: Any, rows: Any) -> list[Result]:
        raise NotImplementedError

    def run(self, verifier: Verifier) -> list[Result]:
        declared = self.declared(verifier)
        if self.skip and not declared:
            return [Result(self.name, "", SKIP, "", text(said(self.skip)))]
        return self.findings(verifier, declared, self.query(verifier, declared))

    def per_schema(
        self,
        schemas: Iterable[str],
        problems: dict[str, list[Message]],
        expected: dict[str, Message],
    ) -> list[Result]:
        """One result per schema in scope: pass, or fail listing what is wrong there."""
        return [
            Result(
                self.name,
                schema,
                FAIL if problems.get(schema) else PASS,
                text(expected[schema]) if schema in expected else "",
                text(sorted(problems[schema], key=stored_text.stored))
                if problems.get(schema)
                else "",
            )
            for schema in schemas
        ]
