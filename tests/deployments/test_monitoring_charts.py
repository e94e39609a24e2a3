"""The monitoring page's charts: kept figures, companies by name, the library served here."""

from __future__ import annotations

import json
import re

from django.contrib.staticfiles import finders
from django.utils import timezone

from deployments.models_routine import FiguresSnapshot
from qiro import tenant_context

PAGE = "/admin/deployments/operation/monitoring/"


def charts_of(content: bytes) -> dict:
    found = re.search(rb'<script id="qiro-charts" type="application/json">(.*?)</script>', content)
    assert found, "the page carries no chart data"
    return json.loads(found.group(1))


def test_the_charts_show_kept_figures_with_company_names(staff_client, two_companies):
    a, b = two_companies
    today = timezone.localdate()
    now = timezone.now()
    with tenant_context.owner_context():
        FiguresSnapshot.objects.filter(day=today).delete()
        FiguresSnapshot.objects.bulk_create([
            FiguresSnapshot(day=today, schema_name="", companies=2, users=7, active_sessions=5,
                            schema_size_bytes=3 * 1024**2, taken_at=now),
            FiguresSnapshot(day=today, company_id=a.company.pk, schema_name=a.company.schema_name,
                            users=4, active_sessions=1, taken_at=now),
            FiguresSnapshot(day=today, company_id=b.company.pk, schema_name=b.company.schema_name,
                            users=3, active_sessions=4, taken_at=now),
        ])  # fmt: skip
    try:
        page = staff_client.get(PAGE, HTTP_HOST="localhost")
        assert page.status_code == 200
        charts = charts_of(page.content)
        signups = charts["signups"]
        assert len(signups["x"]) == len(signups["series"][0]["values"]) == 30
        growth = charts["growth"]
        assert growth["x"][-1] == int(now.timestamp())
        sizes = next(s for s in growth["series"] if s["unit"] == "bytes")
        assert sizes["values"][-1] == 3 * 1024**2
        assert sizes["label"] == "데이터베이스 크기"  # Korean first
        # the busiest companies by name, busiest first, never by schema
        text = page.content.decode()
        bars = text[text.index('class="qiro-bars"') :]
        assert bars.index(b.company.name) < bars.index(a.company.name)
        assert f"<span>{a.company.schema_name}</span>" not in bars
    finally:
        with tenant_context.owner_context():
            FiguresSnapshot.objects.filter(day=today).delete()


def test_the_chart_library_is_served_by_the_app(staff_client):
    page = staff_client.get(PAGE, HTTP_HOST="localhost").content.decode()
    for path in ("deployments/vendor/uplot/uPlot.iife.min.js", "deployments/monitoring.js"):
        assert path in page
        assert finders.find(path), f"{path} is not among the static files"
    assert "cdn" not in page.lower()
