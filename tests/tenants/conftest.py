"""Pool schemas made by a test are dropped after it: other suites see no stray schemas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connections

from tenants import schema_pool


@pytest.fixture(autouse=True)
def drop_pool_schemas_afterwards(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "live_db" not in request.fixturenames:
        return
    with request.getfixturevalue("django_db_blocker").unblock():
        with connections["owner"].cursor() as cursor:
            names = schema_pool.pool_schemas(cursor, current_only=False)
        for name in names:
            schema_pool.drop_schema(name)
