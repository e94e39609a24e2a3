"""One command for a whole scale: build it (if needed), then every benchmark, then the goals.

Runs ``data.py``, ``queries.py --plans --policy-forms`` and ``http_load.py``
for the scale, one after the other (each its own process, as a user would run
it), and prints the figures against the goals the reference system set.

    .venv/bin/python bench/run.py large
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

HERE = Path(__file__).resolve().parent


def step(script: str, *args: str) -> None:
    print(f"\n=== {script} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), *args], check=True)  # noqa: S603 - our scripts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", choices=["small", "large"])
    parser.add_argument("--rebuild", action="store_true", help="build the data anew")
    args = parser.parse_args()
    step("data.py", args.scale, *(["--rebuild"] if args.rebuild else []))
    step("queries.py", args.scale, "--plans", "--policy-forms")
    step("http_load.py", args.scale)

    results = Path(os.environ.get("QIRO_BENCH_RESULTS", _common.RESULTS))
    built = json.loads((results / f"data-{args.scale}.json").read_text())
    queries = json.loads((results / f"queries-{args.scale}.json").read_text())
    pages = json.loads((results / f"http-{args.scale}.json").read_text())
    print(f"\n=== {args.scale}: against the goals")
    print(f"build: {built['build']['total_s']} s, rows: {built['rows']}")
    for name, goal in queries["goals"].items():
        verdict = "met" if goal["met_exec"] else "missed"
        print(
            f"{name}: p50 execution {goal['p50_exec_ms']} ms "
            f"(reference {goal['reference_ms']} ms, {verdict}), through the ORM "
            f"{goal['p50_wall_ms']} ms"
        )
    for name, ratio in queries["rls_overhead_p50"].items():
        verdict = "met" if ratio["execution"] <= queries["rls_goal"] else "missed"
        print(
            f"RLS overhead, {name}: execution {ratio['execution']}, wall {ratio['wall']} "
            f"(goal <= {queries['rls_goal']}, {verdict})"
        )
    print(f"50 browsing: {pages['browsing']}, {pages['browsing_pages_per_second']} pages/s")
    print(f"sign-ins at once: {pages['concurrent_logins']}")


if __name__ == "__main__":
    main()
