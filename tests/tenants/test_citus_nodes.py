"""The platform admin on a Citus cluster: each company's node, and moving it.

On plain PostgreSQL none of it shows; on Citus the company list has the node
and shard count of each company, and "Move to node …" moves a company's
schema to another worker as a background operation, every row kept.
"""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers

from deployments import citus_move, tasks
from deployments.models import Operation
from qiro import tenant_context
from qiro.db.citus import connection_is_citus, schema_placements, worker_nodes
from tests.conftest import english_log, make_company

COMPANIES = "/admin/tenants/company/"


@pytest.fixture
def citus(live_db):
    if not connection_is_citus("owner"):
        pytest.skip("not a Citus server: companies have no node")


@pytest.fixture(scope="module")
def movable_company(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from django.db import connections

        if not connection_is_citus("owner"):
            return None
        with connections["owner"].cursor():
            return make_company("movable", "1010120506", "이동 주식회사")


@pytest.fixture
def movable(citus, movable_company):
    return movable_company


def placement(schema: str) -> tuple[str, int, int]:
    from django.db import connections

    with connections["owner"].cursor() as cursor:
        return schema_placements(cursor, [schema])[schema]


def other_worker(node: str) -> str:
    from django.db import connections

    with connections["owner"].cursor() as cursor:
        return next(n for n in worker_nodes(cursor) if n != node)


def test_plain_postgresql_shows_no_node(live_db, staff_client, two_companies):
    if connection_is_citus("owner"):
        pytest.skip("a Citus server: the node columns are expected there")
    page = staff_client.get(COMPANIES, HTTP_HOST="localhost").content.decode()
    assert "Move to node" not in page
    assert "노드로 옮기기" not in page
    assert 'class="column-node"' not in page


def test_the_company_list_shows_each_companys_node_and_shards(citus, staff_client, two_companies):
    a, _ = two_companies
    node, shards, _ = placement(a.company.schema_name)
    assert shards > 5  # every table of the schema, on one node
    page = staff_client.get(COMPANIES, HTTP_HOST="localhost").content.decode()
    assert 'class="column-node"' in page
    assert node in page


def test_a_move_keeps_every_row_and_changes_the_node(movable):
    schema = movable.company.schema_name
    source, _, _ = placement(schema)
    target = other_worker(source)
    result = citus_move.move_company(schema_name=schema, node=target)
    assert result["from"] == source
    assert result["to"] == target
    assert result["rows_after"] == result["rows_before"] > 0
    assert placement(schema)[0] == target


def test_a_move_to_a_node_that_holds_no_companies_is_refused(movable):
    with pytest.raises(citus_move.MoveError, match=r"127\.0\.0\.1:1"):
        citus_move.move_company(schema_name=movable.company.schema_name, node="127.0.0.1:1")


def test_the_admin_action_asks_for_the_node_then_runs_in_the_background(movable, staff_client):
    schema = movable.company.schema_name
    source, _, _ = placement(schema)
    target = other_worker(source)
    data = {"action": "move_to_node", helpers.ACTION_CHECKBOX_NAME: [movable.company.pk]}
    asked = staff_client.post(COMPANIES, data, HTTP_HOST="localhost")
    assert asked.status_code == 200
    assert target in asked.content.decode()
    queued = staff_client.post(
        COMPANIES, {**data, "confirm": "yes", "node": target}, HTTP_HOST="localhost"
    )
    assert queued.status_code == 302
    operation = Operation.objects.using("owner").filter(kind=Operation.Kind.MOVE).latest("pk")
    assert operation.parameters == {"company_schema": schema, "node": target}
    with tenant_context.platform_context():  # as the worker runs it
        tasks.execute(operation)
        operation.refresh_from_db()
    assert operation.status == Operation.Status.SUCCEEDED
    assert "none lost" in english_log(operation.log)
    assert placement(schema)[0] == target


def test_the_monitoring_page_shows_companies_per_node(citus, staff_client, two_companies):
    page = staff_client.get(
        "/admin/deployments/operation/monitoring/", HTTP_HOST="localhost"
    ).content.decode()
    assert other_worker("") in page or "5442" in page or "5443" in page
