"""Every admin list page at a named scale: rows written by Django against QIRO's planned rows.

The same page, the same signed-in client, in alternating rounds: once with
Django's ``items_for_result`` writing the rows (``planned_rows`` switched off for
the request), once with ``qiro.templatetags.admin_rows``. Through Django's test
client in this process, so only the server's work is timed, with production settings (``DEBUG`` off,
hashed static files). The largest
company's lists (signed in as its first administrator) and the platform's
(signed in as platform staff), ``--runs`` each per side.

    .venv/bin/python bench/admin_lists.py large [--runs 100]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import data
import http_load

SIDES = ("django", "planned")
PLATFORM_LISTS = (
    "tenants/company",
    "registration/application",
    "sysauth/auditentry",
    "deployments/operation",
    "deployments/backup",
    "deployments/verificationrun",
)
COMPANY_LISTS = (
    "sysauth/user",
    "sysauth/session",
    "sysauth/role",
    "sysauth/userrole",
    "sysauth/rolepermissionhistory",
    "sysauth/auditentry",
    "sysauth/apitoken",
)


def signed_in(host: str, login: str, email: str) -> Any:
    from django.test import Client

    client = Client(HTTP_HOST=host)
    answer = client.post(login, {"username": email, "password": data.PASSWORD}, secure=True)
    assert answer.status_code == 302, answer.content[:300]
    return client


def timed(client: Any, path: str, side: str) -> float:
    from qiro.templatetags import admin_rows

    planned = admin_rows.planned_rows
    if side == "django":
        admin_rows.planned_rows = lambda cl: None
    try:
        began = time.perf_counter()
        answer = client.get(path, secure=True)
        elapsed = (time.perf_counter() - began) * 1000
    finally:
        admin_rows.planned_rows = planned
    assert answer.status_code == 200, (path, answer.status_code)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", choices=sorted(data.SCALES))
    parser.add_argument("--runs", type=int, default=100, help="per page and side")
    args = parser.parse_args()
    # As in production: DEBUG off, hashed static files from their manifest.
    os.environ.update(http_load.production_env())
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=_common.ROOT, env=os.environ, check=True,
    )  # fmt: skip
    data.ensure_scale(args.scale)
    company, host = http_load.prepare()
    index = int(company.schema_name.removeprefix("bench_c"))
    clients = {
        "platform": signed_in("localhost", "/admin/login/", http_load.PLATFORM_ADMIN),
        "company": signed_in(host, "/accounts/login/", data.admin_email(index)),
    }
    pages = [("platform", f"/admin/{name}/") for name in PLATFORM_LISTS] + [
        ("company", f"/admin/{name}/") for name in COMPANY_LISTS
    ]
    samples: dict[str, list[float]] = {}
    for site, path in pages:
        client = clients[site]
        for side in SIDES:  # warm both
            timed(client, path, side)
        for side in SIDES:
            samples[f"{site} {path}: {side}"] = []
        for _ in range(args.runs):
            for side in SIDES:
                samples[f"{site} {path}: {side}"].append(timed(client, path, side))
        print(f"  {site} {path}", flush=True)
    rows = {label: _common.summary(values) for label, values in samples.items()}
    ratios = {
        f"{site} {path}": round(
            rows[f"{site} {path}: planned"]["p50_ms"] / rows[f"{site} {path}: django"]["p50_ms"], 3
        )
        for site, path in pages
    }
    _common.report(
        f"admin_lists-{args.scale}",
        rows,
        {"scale": args.scale, "company": company.schema_name, "planned_over_django_p50": ratios},
    )


if __name__ == "__main__":
    main()
