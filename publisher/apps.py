from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PublisherConfig(AppConfig):
    name = "publisher"
    verbose_name = _("Publishing")

    def ready(self) -> None:
        # Imported here, not at the top: this module loads before the models can (Django's
        # app loading), so these are the start-up imports, not a way around a cycle.
        from accounts.audit import audit_recorder_register
        from publisher.audit import audit_record
        from publisher.delivery import dispatch, hooks
        from publisher.delivery.cluster import sentinel_repair_install
        from publisher.workflow import boosts, notifications, services

        # Lower layers cause effects owned above them through callbacks registered here; they
        # never import upward (the contracts in pyproject.toml fail the lint if one does).
        # accounts records its events (second factor, lockouts) in publisher's audit trail.
        audit_recorder_register(audit_record)
        # The dispatcher's loop expires messages whose time came before an approval.
        hooks.unapproved_expire_register(services.messages_expire_unapproved)
        # An urgent message's deliveries are claimed right after the approval commits.
        hooks.urgent_hand_over_register(dispatch.deliveries_hand_over)
        # A message whose posts all went out: its author gets a mail.
        hooks.message_published_register(notifications.message_published_notify)
        # A queued task reads paid promotions' status and results back from Meta.
        hooks.boosts_refresh_register(boosts.boosts_refresh)
        # Promotions are made, started and paused at Meta by a queued task after the commit.
        hooks.boosts_remote_register(boosts.boosts_remote)
        sentinel_repair_install()
