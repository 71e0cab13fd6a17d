from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PublisherConfig(AppConfig):
    name = "publisher"
    verbose_name = _("Publishing")

    def ready(self) -> None:
        # accounts records its events (second factor, lockouts) in publisher's audit trail
        # through this hook: the lower layer never imports the higher one.
        from accounts.audit import audit_recorder_register
        from publisher.cluster import sentinel_repair_install
        from publisher.services import audit_record

        audit_recorder_register(audit_record)
        sentinel_repair_install()
