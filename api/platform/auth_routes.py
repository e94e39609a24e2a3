"""Platform staff: sign in (a session or a token), sign out, ``me``: as on company hosts,
with the platform admin's sign-in rules (staff only)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from api.company import auth_routes
from api.company.schemas import SignedIn, SignIn
from sysauth.forms import PlatformAdminAuthenticationForm

router = Router(tags=["auth"])


@router.post("/sign-in", auth=None, response=SignedIn, summary="Sign in (platform staff)")
def sign_in(request: HttpRequest, body: SignIn) -> dict[str, Any]:
    auth_routes.require_json(request)
    user = auth_routes.check_credentials(request, body, PlatformAdminAuthenticationForm)
    return auth_routes.signed_in(request, body, user)


router.add_api_operation("/sign-out", ["POST"], auth_routes.sign_out, auth=auth_routes.AUTH,
                         response={204: None}, summary="Sign out")  # fmt: skip
router.add_api_operation("/me", ["GET"], auth_routes.me, auth=auth_routes.AUTH,
                         response=auth_routes.Me, summary="The validated session")  # fmt: skip
