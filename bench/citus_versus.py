"""The query and provisioning benches on a Citus coordinator and on plain PostgreSQL, interleaved.

Runs ``bench/queries.py <scale>`` and ``bench/provision.py`` against each
server in turn, ``--rounds`` times (PostgreSQL, Citus, PostgreSQL, Citus, …),
so that the machine's load falls on both alike, then keeps the median of each
figure's p50 over the rounds and the ratio Citus / PostgreSQL. Each server
holds its own ``qiro_bench_<scale>`` database (built by ``bench/data.py`` on
first use). Also records, from ``EXPLAIN`` on the coordinator, where a
company's statement runs: Citus's router plan names the one worker it is sent
to.

    .venv/bin/python bench/citus_versus.py --plain postgres://postgres@127.0.0.1:5432/postgres \\
        --citus postgres://postgres@127.0.0.1:5441/postgres --scale small --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


def run_bench(script: str, args: list[str], url: str, out: Path) -> dict[str, Any]:
    """One bench script against the server of ``url``; its JSON result."""
    env = {**os.environ, "DATABASE_URL": url, "QIRO_BENCH_RESULTS": str(out)}
    command = [PYTHON, str(HERE / script), *args]
    subprocess.run(command, env=env, check=True, stdout=sys.stderr)  # noqa: S603 - our benches
    name = "provision" if script == "provision.py" else f"queries-{args[0]}"
    return dict(json.loads((out / f"{name}.json").read_text()))


def medians(results: list[dict[str, Any]]) -> dict[str, float]:
    """Each row's p50, the median over the rounds."""
    keys = results[0]["results"].keys()
    return {
        k: round(statistics.median(r["results"][k]["p50_ms"] for r in results), 3) for k in keys
    }


def routing(url: str, scale: str) -> dict[str, Any]:
    """How the coordinator runs a company's read: the plan of one, as the runtime role sees it."""
    os.environ["DATABASE_URL"] = url
    sys.path.insert(0, str(HERE))
    import data

    data.ensure_scale(scale)
    from django.db import connections

    from qiro import tenant_context
    from sysauth.models import User
    from tenants.models import Company

    with tenant_context.owner_context():
        company = Company.objects.filter(schema_name__startswith="bench_c").order_by("pk").first()
        assert company is not None
    with tenant_context.company_context(company), connections["default"].cursor() as cursor:
        sql, params = User.objects.filter(email__startswith="user1").query.sql_with_params()
        cursor.execute("EXPLAIN (COSTS OFF, VERBOSE) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT nodename || ':' || nodeport FROM citus_shards "
            "WHERE citus_table_type = 'schema' AND table_name = %s::regclass",
            [f"{company.schema_name}.sysauth_user"],
        )
        row = cursor.fetchone()
    return {"company": company.schema_name, "shard_on": row[0] if row else None, "plan": plan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain", required=True, help="a URL of the plain PostgreSQL server")
    parser.add_argument("--citus", required=True, help="a URL of the Citus coordinator")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200, help="runs of each query per round")
    parser.add_argument("--companies", type=int, default=5, help="companies each, provisioning")
    parser.add_argument("--skip-provision", action="store_true")
    args = parser.parse_args()
    servers = {"postgresql": args.plain, "citus": args.citus}
    queries: dict[str, list[dict[str, Any]]] = {s: [] for s in servers}
    provision: dict[str, list[dict[str, Any]]] = {s: [] for s in servers}
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(args.rounds):
            for server, url in servers.items():
                out = Path(tmp, server, str(number))
                print(f"== round {number + 1}: {server}", file=sys.stderr, flush=True)
                queries[server].append(
                    run_bench("queries.py", [args.scale, "--runs", str(args.runs)], url, out)
                )
                if not args.skip_provision:
                    database = _bench_url(url, f"qiro_bench_{args.scale}")
                    provision[server].append(
                        run_bench(
                            "provision.py", ["--companies", str(args.companies)], database, out
                        )
                    )
    figures: dict[str, Any] = {"queries": {s: medians(r) for s, r in queries.items()}}
    if not args.skip_provision:
        figures["provision"] = {s: medians(r) for s, r in provision.items()}
    ratios = {
        part: {
            key: round(citus / figures[part]["postgresql"][key], 2)
            for key, citus in figures[part]["citus"].items()
            if figures[part]["postgresql"].get(key)
        }
        for part in figures
    }
    route = routing(args.citus, args.scale)
    payload = {
        "scale": args.scale,
        "rounds": args.rounds,
        "runs": args.runs,
        "companies_each": args.companies,
        "p50_ms_median_of_rounds": figures,
        "citus_over_postgresql": ratios,
        "routing": route,
        "machine_load": os.getloadavg(),
    }
    for part, by_key in ratios.items():
        print(f"{part}: Citus / PostgreSQL, p50")
        for key, ratio in by_key.items():
            plain, citus = figures[part]["postgresql"][key], figures[part]["citus"][key]
            print(f"  {key}: {plain} ms -> {citus} ms  ({ratio}x)")
    print("routing:", json.dumps(route, indent=1, ensure_ascii=False))
    _common.write_json(f"citus/versus-{args.scale}", payload)


def _bench_url(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + name))


if __name__ == "__main__":
    main()
