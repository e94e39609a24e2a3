"""``/health/ready/``: a status for anyone, the details for staff and token holders.

Load balancers and uptime probes need only 200 or 503. What is behind a 503
(error texts, counts of schemas, operation ids) helps an attacker as much as
an operator, so it is shown only to signed-in platform staff or to a caller
that sends ``Authorization: Bearer <QIRO_HEALTH_TOKEN>`` (compared in
constant time; no token configured means no token is accepted). Anonymous
answers may be up to ``ANONYMOUS_MAX_AGE`` seconds old, so a stranger cannot
make the database read every schema on each request.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from deployments.health import readiness, recent_readiness, status_of

BEARER = "bearer "
# Anonymous probes share one computation per this many seconds (per process).
ANONYMOUS_MAX_AGE = 5.0


def may_see_details(request: HttpRequest) -> bool:
    """Platform staff signed in on this host, or the configured health token."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = str(settings.QIRO_HEALTH_TOKEN or "")
    header = request.headers.get("Authorization", "")
    if not token or not header.lower().startswith(BEARER):
        return False
    return hmac.compare_digest(header[len(BEARER) :].strip().encode(), token.encode())


@require_GET
@never_cache
def health_ready(request: HttpRequest) -> JsonResponse:
    """Readiness (200/503): database, migrations, worker, verification, stuck operations.

    Open incidents make a ready answer ``degraded`` (200); only staff and token
    holders see their reasons.
    """
    detailed = may_see_details(request)
    report = readiness() if detailed else recent_readiness(max_age=ANONYMOUS_MAX_AGE)
    status = status_of(report)  # ok, degraded (still 200) or unavailable
    body = {"status": status, **report} if detailed else {"status": status}
    return JsonResponse(body, status=200 if report["ready"] else 503)
