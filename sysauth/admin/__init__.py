"""The company admin (users, roles, assignments, sessions, history, audit) and platform staff.

One module per area, each registering its own admins; all of them
configuration whose writes are ``sysauth.actions``. What a person may do here
comes from their roles (``sysauth.backends.EmailBackend``).
"""

from qiro.admin_sites import company_admin, platform_admin
from sysauth.admin import history, roles, sessions, users
from sysauth.admin.history import EstimatedCountPaginator
from sysauth.forms import CompanyAdminAuthenticationForm, PlatformAdminAuthenticationForm

# Sign-in on both admin sites is throttled (failures counted in the host's schema).
company_admin.login_form = CompanyAdminAuthenticationForm
platform_admin.login_form = PlatformAdminAuthenticationForm

__all__ = ["EstimatedCountPaginator", "history", "roles", "sessions", "users"]
