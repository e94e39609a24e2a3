"""``roles``: list with permissions, create or edit, assign and unassign."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.http import HttpRequest
from ninja import Router, Status

from api.auth import AUTH, require
from api.company.common import get_or_404, user_out
from api.company.schemas import Assignment, RoleOut, RoleWrite, UserOut
from sysauth import actions
from sysauth.models import Role, RolePermission, User

router = Router(tags=["roles"], auth=AUTH)
VIEW_ROLE = "sysauth.view_role"
ADD_ROLE = "sysauth.add_role"
CHANGE_ROLE = "sysauth.change_role"
ADD_ASSIGNMENT = "sysauth.add_userrole"
DELETE_ASSIGNMENT = "sysauth.delete_userrole"


def _with_permissions() -> Any:
    codenames = (
        RolePermission.objects.filter(role=OuterRef("pk")).order_by("codename").values("codename")
    )
    return Role.objects.annotate(codenames=ArraySubquery(codenames)).order_by("name")


def role_out(role: Role) -> dict[str, Any]:
    codenames = getattr(role, "codenames", None)
    if codenames is None:
        codenames = sorted(role.permissions.values_list("codename", flat=True))
    return {"id": role.pk, "name": role.name, "label": role.label,
            "description": role.description, "permissions": list(codenames)}  # fmt: skip


@router.get("", response=list[RoleOut], summary="Roles with their permissions")
def list_roles(request: HttpRequest) -> list[dict[str, Any]]:
    require(request, scope="roles:read", permission=VIEW_ROLE)
    return [role_out(r) for r in _with_permissions()]


@router.get("/{role_id}", response=RoleOut, summary="One role")
def get_role(request: HttpRequest, role_id: int) -> dict[str, Any]:
    require(request, scope="roles:read", permission=VIEW_ROLE)
    return role_out(get_or_404(Role, role_id))


@router.post("", response={201: RoleOut}, summary="Create a role")
def create_role(request: HttpRequest, body: RoleWrite) -> Status[dict[str, Any]]:
    acting = require(request, scope="roles:write", permission=ADD_ROLE)
    role = Role(name=body.name, label=body.label, description=body.description)
    actions.save_role(role=role, codenames=body.permissions, acting_user=acting)
    return Status(201, role_out(role))


@router.put("/{role_id}", response=RoleOut, summary="Change a role and its permissions")
def change_role(request: HttpRequest, role_id: int, body: RoleWrite) -> dict[str, Any]:
    acting = require(request, scope="roles:write", permission=CHANGE_ROLE)
    role = get_or_404(Role, role_id)
    role.name, role.label, role.description = body.name, body.label, body.description
    actions.save_role(role=role, codenames=body.permissions, acting_user=acting)
    return role_out(role)


@router.post("/{role_id}/assignments", response={201: UserOut}, summary="Assign the role")
def assign(request: HttpRequest, role_id: int, body: Assignment) -> Status[dict[str, Any]]:
    acting = require(request, scope="roles:write", permission=ADD_ASSIGNMENT)
    role = get_or_404(Role, role_id)
    user = get_or_404(User, body.user_id)
    actions.assign_role(user=user, role=role, acting_user=acting)
    return Status(201, user_out(user))


@router.delete("/{role_id}/assignments/{user_id}", response=UserOut, summary="Unassign the role")
def unassign(request: HttpRequest, role_id: int, user_id: int) -> dict[str, Any]:
    acting = require(request, scope="roles:write", permission=DELETE_ASSIGNMENT)
    role = get_or_404(Role, role_id)
    user = get_or_404(User, user_id)
    actions.unassign_role(user=user, role=role, acting_user=acting)
    return user_out(user)
