"""The permission history records the table's name, not its shard's.

On Citus the trigger fires on the shard, whose name carries the shard id
(``sysauth_userrole_102098``); ``TG_TABLE_NAME`` is then that name. A Citus
shard name is the table's name plus ``_<shard id>``, and none of the two
tables the trigger is on ends in six digits, so the suffix is removed
(the same rule as ``qiro.db.citus.table_or_constraint_name``). On plain
PostgreSQL nothing changes.
"""

from django.db import migrations

FUNCTION_HEAD = """
CREATE OR REPLACE FUNCTION record_role_permissions_change() RETURNS trigger
LANGUAGE plpgsql AS $body$
DECLARE
    old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
    changed jsonb := coalesce(new_row, old_row);
BEGIN
    EXECUTE format(
        'INSERT INTO %I.sysauth_rolepermissionhistory (company_id, operation, table_name, '
        'role_id, user_id, permission, old_values, new_values, actor_id, changed_at) '
        'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, clock_timestamp())',
        TG_TABLE_SCHEMA)
    USING (changed ->> 'company_id')::bigint, TG_OP, """
FUNCTION_TAIL = """,
          (changed ->> 'role_id')::bigint, (changed ->> 'user_id')::bigint,
          coalesce(changed ->> 'codename', ''), old_row, new_row,
          NULLIF(current_setting('qiro.actor_id', true), '')::bigint;
    RETURN NULL;
END
$body$
"""
TABLE_NAME = "regexp_replace(TG_TABLE_NAME, '_[0-9]{6,}$', '')"
PREVIOUS_TABLE_NAME = "TG_TABLE_NAME"


class Migration(migrations.Migration):
    dependencies = [
        ("sysauth", "0007_api_tokens"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[FUNCTION_HEAD + TABLE_NAME + FUNCTION_TAIL],
            reverse_sql=[FUNCTION_HEAD + PREVIOUS_TABLE_NAME + FUNCTION_TAIL],
        ),
    ]
