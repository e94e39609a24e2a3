"""The deploy command's progress: redrawn on a terminal, a line a tenth in a file or a pipe."""

from __future__ import annotations

import io

from django.core.management.base import OutputWrapper

from deployments.management.commands.deploy import ProgressBar
from qiro.db.schema_migrations import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(stream: io.StringIO, total: int = 1000, failing: int = 500) -> str:
    bar = ProgressBar(OutputWrapper(stream))
    for done in range(1, total + 1):
        error = "boom" if done == failing else ""
        bar(Progress(done, total, f"c{done:04}", 0.1, done * 0.1, error))
    bar.end()
    return stream.getvalue()


def test_in_a_file_each_tenth_is_a_line_of_its_own_and_a_failure_too():
    text = run(io.StringIO())
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 12, lines  # 0/10 .. 10/10 and the failure
    assert lines[-1].startswith("[" + "#" * 30 + "] 1000/1000 schemas, 1 failed")
    assert "c0500: boom" in lines


def test_on_a_terminal_the_line_is_redrawn_for_each_schema():
    text = run(Terminal())
    assert text.count("\r") == 1000
    assert "\nc0500: boom" in text
    assert text.endswith("\n")
