"""The permission-history trigger: declared once, installed in every schema by ``secure_schema``.

``record_role_permissions_change`` writes one ``sysauth_rolepermissionhistory``
row per change of a role's permissions or of a user's roles, into the schema of
the changed table (``TG_TABLE_SCHEMA``), so one body serves every company
schema, cloned ones included. The actor is the transaction's ``qiro.actor_id``
(``SET LOCAL`` by the runtime backend). The table's name is recorded without
the shard id Citus appends to it on a worker (``sysauth_userrole_102098``), as
migration ``sysauth/0008`` installs it; ``sysauth/0002`` holds the frozen copy
it was first installed from.
"""

from __future__ import annotations

from qiro.expectations import DatabaseTrigger

RECORD_CHANGES_BODY = """
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
    USING (changed ->> 'company_id')::bigint, TG_OP,
          regexp_replace(TG_TABLE_NAME, '_[0-9]{6,}$', ''),
          (changed ->> 'role_id')::bigint, (changed ->> 'user_id')::bigint,
          coalesce(changed ->> 'codename', ''), old_row, new_row,
          NULLIF(current_setting('qiro.actor_id', true), '')::bigint;
    RETURN NULL;
END
"""

RECORD_ROLE_PERMISSIONS_CHANGE = DatabaseTrigger(
    "record_role_permissions_change",
    events="AFTER INSERT OR UPDATE OR DELETE",
    function_body=RECORD_CHANGES_BODY,
)
