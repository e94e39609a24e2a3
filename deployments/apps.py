from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from deployments.definer import READINESS_FUNCTIONS


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = _("Deployments")
    # Read by qiro.db.objects: installed by migrations, compared by verification.
    database_objects = READINESS_FUNCTIONS

    def ready(self) -> None:
        from deployments.actions import queue_company_move
        from deployments.routine.pool import enqueue_refill
        from tenants.admin_nodes import move_requested
        from tenants.schema_pool import schema_taken

        schema_taken.connect(enqueue_refill, dispatch_uid="deployments.enqueue_refill")
        move_requested.connect(queue_company_move, dispatch_uid="deployments.queue_company_move")
