"""The kept figures of companies: the same whichever way the catalogs are read."""

from __future__ import annotations

from qiro import tenant_context
from tenants import services
from tenants.models import Company


def _figures(companies):
    with tenant_context.owner_context():
        return {
            c.schema_name: (c.schema_size_bytes, c.user_count)
            for c in Company.objects.filter(pk__in=[c.pk for c in companies])
        }


def test_sizes_by_pg_depend_and_by_pg_class_agree(live_db, two_companies, monkeypatch):
    companies = [made.company for made in two_companies]
    monkeypatch.setattr(services, "SIZE_FEW", 100)  # through pg_depend
    assert services.refresh_company_stats(companies=companies) == 2
    few = _figures(companies)
    monkeypatch.setattr(services, "SIZE_FEW", 0)  # one scan of pg_class
    assert services.refresh_company_stats(companies=companies) == 2
    many = _figures(companies)
    assert few == many
    for size, users in few.values():
        assert size > 100_000, "every table and index of the schema counted"
        assert users >= 2  # the owner and the member, and what other tests added
