"""Users, sessions, roles and the permission history.

Platform staff live in the public schema (company NULL), each company's users,
sessions and roles in its own schema. Every table carries ``company_id`` and
row security: the company of the current transaction sees its own rows only,
the platform role only the rows without a company. One module per area; this
one names them all, as Django and the rest of the code look for them here.
"""

from sysauth.models.roles import (
    HistoryOperation,
    Role,
    RolePermission,
    RolePermissionHistory,
    UserRole,
)
from sysauth.models.sessions import LoginFailure, Session, SessionStatus
from sysauth.models.users import User, UserManager, UserType
from sysauth.models_audit import AuditEntry
from sysauth.models_tokens import ApiToken

__all__ = [
    "ApiToken",
    "AuditEntry",
    "HistoryOperation",
    "LoginFailure",
    "Role",
    "RolePermission",
    "RolePermissionHistory",
    "Session",
    "SessionStatus",
    "User",
    "UserManager",
    "UserRole",
    "UserType",
]
