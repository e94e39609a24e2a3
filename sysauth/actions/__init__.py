"""The company's actions on users, roles and sessions (one module per area).

Every action is keyword-only and takes ``acting_user`` (None: the system, said
so by the caller); it runs in ``transaction.atomic(using=<context alias>,
durable=True)``, writes its audit row (``sysauth.audit``) in that transaction
and sends its e-mails on commit. Rules kept here, whatever the entry point
(company admin, API, commands):

* only an owner touches an owner, and nobody grants a permission they do not
  hold (``sysauth.hierarchy``);
* a company always keeps at least one active owner (role ``owner``);
* a user holds a role at most once, and role names are unique;
* deactivating a user, changing a password and suspending the company end
  sessions at once (the next request is signed out).
"""

from sysauth.actions.roles import (
    assign_role,
    delete_role,
    delete_roles,
    ensure_default_roles,
    save_role,
    set_role_permissions,
    unassign_role,
    unassign_roles,
)
from sysauth.actions.sessions import (
    clean_sessions_everywhere,
    revoke_company_sessions,
    revoke_session,
    revoke_user_sessions,
    sign_out_session,
)
from sysauth.actions.users import (
    create_first_administrator,
    create_user,
    deactivate_user,
    delete_user,
    delete_users,
    reactivate_user,
    send_password_reset_email,
    update_user,
)
from sysauth.hierarchy import ADMIN_ACCESS, permission_choices

__all__ = [
    "ADMIN_ACCESS",
    "assign_role",
    "clean_sessions_everywhere",
    "create_first_administrator",
    "create_user",
    "deactivate_user",
    "delete_role",
    "delete_roles",
    "delete_user",
    "delete_users",
    "ensure_default_roles",
    "permission_choices",
    "reactivate_user",
    "revoke_company_sessions",
    "revoke_session",
    "revoke_user_sessions",
    "save_role",
    "send_password_reset_email",
    "set_role_permissions",
    "sign_out_session",
    "unassign_role",
    "unassign_roles",
    "update_user",
]
