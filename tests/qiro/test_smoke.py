from django.db import connections


def test_runtime_alias_logs_in_as_the_runtime_role(live_db):
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == connections["default"].settings_dict["USER"]


def test_two_companies(two_companies):
    a, b = two_companies
    assert a.owner.company_id == a.company.pk
    assert b.member.company_id == b.company.pk
