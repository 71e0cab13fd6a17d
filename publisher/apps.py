from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PublisherConfig(AppConfig):
    name = "publisher"
    verbose_name = _("Publishing")

    def ready(self) -> None:
        from publisher.cluster import sentinel_repair_install

        sentinel_repair_install()
