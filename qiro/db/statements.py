"""One statement per execute: a SQL script split where PostgreSQL would split it.

Citus forwards a query string whole to the worker that holds a company's
schema, and the worker refuses several commands in one string ("cannot
insert multiple commands into a prepared statement"). Django splits a
``RunSQL`` script with sqlparse, which keeps a plpgsql body's ``BEGIN … END``
and the statements after it together. This splitter knows what PostgreSQL's
lexer knows about where a statement cannot end: quoted literals and
identifiers, dollar quotes and comments.
"""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")


def split_statements(script: str) -> list[str]:
    """The statements of ``script``, stripped, without empty ones or trailing ``;``."""
    statements: list[str] = []
    start = i = 0
    n = len(script)
    while i < n:
        ch = script[i]
        if ch == "-" and script.startswith("--", i):
            end = script.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == "/" and script.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if script.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif script.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif ch in "'\"":
            i += 1
            while i < n:
                if script[i] == ch:
                    if i + 1 < n and script[i + 1] == ch:  # a doubled quote
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif ch == "$" and (match := _DOLLAR_TAG.match(script, i)) and not _in_word(script, i):
            end = script.find(match.group(0), match.end())
            i = n if end < 0 else end + len(match.group(0))
        elif ch == ";":
            statements.append(script[start:i])
            i += 1
            start = i
        else:
            i += 1
    statements.append(script[start:])
    return [s.strip() for s in statements if _has_code(s)]


def _in_word(script: str, i: int) -> bool:
    """A ``$`` inside an identifier (``a$1``) does not open a dollar quote."""
    return i > 0 and (script[i - 1].isalnum() or script[i - 1] == "_")


def _has_code(statement: str) -> bool:
    text = re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.S)
    return bool(text.strip())
