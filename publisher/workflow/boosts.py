"""Paid promotion of a published post ("10 euros that hit the target"): proposals, the
second person's approval of the spend, stop, and the results read back from Meta.

A proposal makes one promotion per language the message's (approved) audience needs, each
targeted to the postal codes of the municipalities owed that language
(territory/boost_targeting.py). The promotion is created PAUSED at Meta after the commit;
only someone other than its proposer, with the approver's permission, turns the spend on.
Exercise messages and the dry-run setting build every request and send none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.audit import audit_record
from publisher.channels.base import AuthError, ChannelError
from publisher.channels.meta_ads import IN_REVIEW, REFUSED, MetaAds, PromotionIds, PromotionSpec
from publisher.delivery import enqueue
from publisher.delivery.publishing import channel_reconnect_needed
from publisher.errors import InvalidTransition, NotAllowed, ValidationError
from publisher.models import (
    AdAccountWallet,
    Boost,
    BoostState,
    Channel,
    CredentialRefused,
    Delivery,
    DeliveryState,
    Message,
    MessageState,
    MessageStatus,
)
from publisher.territory import selectors as territory
from publisher.territory.boost_targeting import LanguageAudience, language_audiences

logger = logging.getLogger(__name__)

BRUSSELS = ZoneInfo("Europe/Brussels")
NETWORKS = ("facebook", "instagram")
PROMOTED_LANGUAGES = ("fr", "nl", "de")
BOOSTABLE = {MessageState.PUBLISHED, MessageState.PARTIALLY_FAILED}
# Budgets committed this month: what may still be spent, or what was spent.
COMMITTED = {BoostState.CREATING, BoostState.PROPOSED, BoostState.ACTIVE}
SPENT = {BoostState.REJECTED, BoostState.COMPLETED, BoostState.STOPPED}
STOPPABLE = {BoostState.CREATING, BoostState.PROPOSED, BoostState.ACTIVE}
AGE_MIN, AGE_MAX = 13, 65
# A start typed a few minutes ago (the form took time to fill) still means "now".
START_GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class BoostRequest:
    """What the "Boost" form asks: the budget (total, euros) per language, the period (aware
    datetimes, entered in Brussels time) and an optional age range."""

    network: str
    budgets: Mapping[str, Decimal]
    starts_at: datetime
    ends_at: datetime
    age_min: int | None = None
    age_max: int | None = None


def euros_to_minor(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def minor_to_euros(minor: int) -> Decimal:
    return (Decimal(minor) / 100).quantize(Decimal("0.01"))


def _month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    local = timezone.localtime(moment, BRUSSELS)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def month_committed_minor(ad_account: str, moment: datetime, *, exclude: Iterable[int] = ()) -> int:
    """What the ad account's promotions starting in `moment`'s month (Brussels) commit: their
    budget while they may still spend, what they spent once over. Dry runs cost nothing."""
    start, end = _month_bounds(moment)
    rows = Boost.objects.filter(ad_account=ad_account, starts_at__gte=start, starts_at__lt=end, dry_run=False).exclude(
        pk__in=list(exclude)
    )
    totals = rows.aggregate(
        budget=Sum("budget_minor", filter=Q(state__in=COMMITTED)), spent=Sum("spend_minor", filter=Q(state__in=SPENT))
    )
    return int(totals["budget"] or 0) + int(totals["spent"] or 0)


def monthly_limit_minor(channel: Channel) -> int:
    limit = channel.config.get("boost_monthly_budget_eur", settings.TANDEM_BOOST_MONTHLY_BUDGET_EUR)
    return euros_to_minor(Decimal(str(limit)))


def _ad_account(channel: Channel) -> str:
    return str(channel.config.get("ad_account_id", "")).strip().removeprefix("act_")


def boostable_deliveries(message: Message, network: str) -> dict[str, Delivery]:
    """The sent post of each language on the network (the first occurrence's)."""
    found: dict[str, Delivery] = {}
    rows = (
        Delivery.objects.filter(
            occurrence__message=message, channel__kind=network, state=DeliveryState.SENT, reply_to__isnull=True
        )
        .exclude(remote_id="")
        .select_related("channel")
        .order_by("due_at", "id")
    )
    for delivery in rows:
        found.setdefault(delivery.language, delivery)
    return found


def message_boost_audiences(message: Message) -> dict[str, LanguageAudience]:
    """Per variant language, the part of the audience the approval bound (the current
    audience for a message approved before approvals bound one)."""
    municipalities = territory.approved_audience_municipalities(message)
    if not message.approved_audience:
        municipalities = territory.audience_municipalities(message)
    languages = list(message.variants.values_list("language", flat=True))
    return language_audiences(
        municipalities.only("nis_code", "language_region", "facilities", "postal_codes"), languages
    )


def is_dry_run(message: Message, channel: Channel) -> bool:
    return (
        message.status == MessageStatus.EXERCISE
        or bool(settings.TANDEM_BOOST_DRY_RUN)
        or bool(channel.config.get("boost_dry_run"))
    )


def _check_request(request: BoostRequest, now: datetime) -> None:
    errors: dict[str, list[str]] = {}
    if request.network not in NETWORKS:
        errors.setdefault("network", []).append(_("Only Facebook and Instagram posts can be promoted."))
    if request.ends_at <= request.starts_at:
        errors.setdefault("ends_at", []).append(_("The end must come after the start."))
    if request.ends_at <= now:
        errors.setdefault("ends_at", []).append(_("The end is already past."))
    if request.starts_at < now - START_GRACE:
        errors.setdefault("starts_at", []).append(_("The start is already past: promotions cannot start earlier."))
    ages = [a for a in (request.age_min, request.age_max) if a is not None]
    if any(not AGE_MIN <= age <= AGE_MAX for age in ages):
        errors.setdefault("age_min", []).append(
            _("Ages go from %(min)s to %(max)s.") % {"min": AGE_MIN, "max": AGE_MAX}
        )
    elif request.age_min is not None and request.age_max is not None and request.age_min > request.age_max:
        errors.setdefault("age_min", []).append(_("The minimum age is above the maximum age."))
    maximum = Decimal(str(settings.TANDEM_BOOST_MAX_EUR))
    if not request.budgets:
        errors.setdefault("budget", []).append(_("Give a budget for at least one language."))
    for language, amount in request.budgets.items():
        if language not in PROMOTED_LANGUAGES:
            errors.setdefault("budget", []).append(_("No post in this language can be promoted."))
        elif not amount.is_finite() or amount <= 0:
            errors.setdefault(f"budget_{language}", []).append(_("A budget must be more than zero."))
        elif amount > maximum:
            errors.setdefault(f"budget_{language}", []).append(
                _("A promotion may cost at most %(max)s €.") % {"max": maximum}
            )
    if errors:
        raise ValidationError(errors)


def message_boost_propose(*, message: Message, request: BoostRequest, actor: User) -> list[Boost]:
    """One paused promotion per language in `request.budgets`, checked against the maximum
    per promotion and the ad account's monthly budget; created at Meta after the commit."""
    if not actor.has_perm("publisher.change_message"):
        raise NotAllowed(_("You may not promote messages."))
    now = timezone.now()
    _check_request(request, now)
    audiences = message_boost_audiences(message)
    deliveries = boostable_deliveries(message, request.network)
    for language in request.budgets:
        if language not in deliveries:
            raise ValidationError(
                {
                    f"budget_{language}": [
                        _("No published %(network)s post in this language.") % {"network": request.network}
                    ]
                }
            )
        if language not in audiences:
            raise ValidationError({f"budget_{language}": [_("The audience needs no post in this language.")]})
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        if message.state not in BOOSTABLE:
            raise InvalidTransition(_("Only a published message can be promoted."))
        channels = {language: Channel.objects.get(pk=deliveries[language].channel_id) for language in request.budgets}
        accounts: dict[str, str] = {}
        for language, channel in channels.items():
            accounts[language] = _ad_account(channel)
            if not accounts[language]:
                raise ValidationError(
                    _("The channel “%(channel)s” has no ad account: set ad_account_id in its configuration.")
                    % {"channel": channel.name}
                )
        _posts_not_already_promoted(message, [deliveries[language] for language in request.budgets])
        # One wallet at a time, whatever channel or message draws on it; in a fixed order so
        # two proposals over the same accounts never wait on each other crosswise.
        for account in sorted(set(accounts.values())):
            _wallet_lock(account)
        boosts: list[Boost] = []
        for language, amount in sorted(request.budgets.items()):
            delivery = deliveries[language]
            channel, account = channels[language], accounts[language]
            dry_run = is_dry_run(message, channel)
            budget = euros_to_minor(amount)
            if not dry_run:
                committed = month_committed_minor(account, request.starts_at)
                limit = monthly_limit_minor(channel)
                if committed + budget > limit:
                    raise ValidationError(
                        _(
                            "This month's promotion budget is %(limit)s €; %(committed)s € is already committed, "
                            "so %(budget)s € more is refused."
                        )
                        % {
                            "limit": minor_to_euros(limit),
                            "committed": minor_to_euros(committed),
                            "budget": minor_to_euros(budget),
                        }
                    )
            audience = audiences[language]
            boost = Boost.objects.create(
                message=message,
                delivery=delivery,
                channel=channel,
                post_id=delivery.remote_id,
                language=language,
                budget_minor=budget,
                starts_at=request.starts_at,
                ends_at=request.ends_at,
                age_min=request.age_min,
                age_max=request.age_max,
                postal_codes=list(audience.postal_codes),
                shared_postal_codes=list(audience.shared_postal_codes),
                locales=list(audience.locales),
                ad_account=account,
                dry_run=dry_run,
                proposed_by=actor,
            )
            audit_record(actor=actor, verb="boost.proposed", obj=message, summary=boost_summary(boost))
            boosts.append(boost)
        ids = [b.pk for b in boosts]

        def boosts_create_after_commit() -> None:
            enqueue.enqueue_boosts_remote("create", ids)

        transaction.on_commit(boosts_create_after_commit, robust=True)
    return boosts


def _wallet_lock(account: str) -> None:
    """Hold the ad account's row until the commit (made on first use; two first uses at
    once: the second waits on the unique key, then finds the row)."""
    AdAccountWallet.objects.get_or_create(ad_account=account)
    AdAccountWallet.objects.select_for_update().get(ad_account=account)


def _posts_not_already_promoted(message: Message, deliveries: Iterable[Delivery]) -> None:
    """A post has one promotion under way at a time: a second "Boost" (a double submit, two
    people at once) would double the spend. Stop the first to propose another."""
    under_way = set(
        Boost.objects.filter(
            message=message, post_id__in=[d.remote_id for d in deliveries], state__in=STOPPABLE
        ).values_list("language", flat=True)
    )
    if under_way:
        raise ValidationError(
            {
                f"budget_{language}": [
                    _("The %(language)s post already has a promotion under way: stop it before proposing another.")
                    % {"language": language.upper()}
                ]
                for language in sorted(under_way)
            }
        )


def boost_summary(boost: Boost) -> dict[str, object]:
    """Budget and audience, as the approver sees them and the audit trail keeps them."""
    return {
        "boost": boost.pk,
        "language": boost.language,
        "network": boost.channel.kind,
        "budget": f"{minor_to_euros(boost.budget_minor)} {boost.currency}",
        "starts_at": timezone.localtime(boost.starts_at, BRUSSELS).isoformat(),
        "ends_at": timezone.localtime(boost.ends_at, BRUSSELS).isoformat(),
        "postal_codes": list(boost.postal_codes),
        "language_targeting": list(boost.locales),
        "postal_codes_with_language_targeting": list(boost.shared_postal_codes),
        "ages": f"{boost.age_min or AGE_MIN}–{boost.age_max or AGE_MAX}" if boost.age_min or boost.age_max else "",
        "dry_run": boost.dry_run,
    }


def _client(boost: Boost) -> MetaAds:
    return MetaAds(boost.channel, send=not boost.dry_run)


def _ids(boost: Boost) -> PromotionIds:
    return PromotionIds(boost.campaign_id, list(boost.adset_ids), boost.creative_id, list(boost.ad_ids))


def _spec(boost: Boost) -> PromotionSpec:
    shared = set(boost.shared_postal_codes)
    targetings = LanguageAudience(
        language=boost.language,
        nis_codes=(),
        home_postal_codes=tuple(code for code in boost.postal_codes if code not in shared),
        shared_postal_codes=tuple(boost.shared_postal_codes),
        locales=tuple(boost.locales),
    ).targetings(age_min=boost.age_min, age_max=boost.age_max)
    return PromotionSpec(
        name=f"Tandem #{boost.message_id} {boost.language} ({boost.pk})",
        network=boost.channel.kind,
        post_id=boost.post_id,
        budget_minor=boost.budget_minor,
        starts_at=timezone.localtime(boost.starts_at, BRUSSELS),
        ends_at=timezone.localtime(boost.ends_at, BRUSSELS),
        targetings=targetings,
    )


def _record_requests(boost: Boost, client: MetaAds) -> None:
    boost.requests = [*boost.requests, *(r.as_dict() for r in client.built)]
    client.built.clear()


def _credential_refused(boost: Boost, client: MetaAds, exc: ChannelError) -> str:
    """Which credential Meta refused ("" when the error is not about access). The channel's
    own token refused: the channel is flagged for reconnection the way a refused post does
    (its posts wait, its administrators are told)."""
    if not isinstance(exc, AuthError):
        return ""
    if client.uses_channel_token:
        channel_reconnect_needed(channel_id=boost.channel_id, reason=str(exc))
        return str(CredentialRefused.CHANNEL)
    return str(CredentialRefused.ADS)


def boosts_create_remote(boost_ids: Sequence[int]) -> None:
    """Create each proposed promotion at Meta, paused (or only build it: dry run). Runs after
    the proposal's commit; no transaction is open around the calls."""
    for boost in Boost.objects.filter(pk__in=list(boost_ids)).select_related("channel"):
        client = _client(boost)
        try:
            ids = client.promotion_create(_spec(boost))
        except ChannelError as exc:
            _record_requests(boost, client)
            boost.state, boost.last_error = BoostState.FAILED, str(exc)
            boost.credential_refused = _credential_refused(boost, client, exc)
            boost.save(update_fields=["state", "last_error", "credential_refused", "requests", "updated_at"])
            audit_record(
                actor=None,
                actor_label="meta",
                verb="boost.failed",
                obj=boost.message,
                summary={"boost": boost.pk, "error": str(exc)},
            )
            continue
        _record_requests(boost, client)
        boost.credential_refused = ""
        boost.campaign_id, boost.adset_ids, boost.creative_id, boost.ad_ids = (
            ids.campaign_id,
            ids.adset_ids,
            ids.creative_id,
            ids.ad_ids,
        )
        # Stopped while it was being made: it exists paused, and stays so.
        updated = Boost.objects.filter(pk=boost.pk, state=BoostState.CREATING).update(
            state=BoostState.PROPOSED, updated_at=timezone.now()
        )
        boost.save(
            update_fields=[
                "campaign_id",
                "adset_ids",
                "creative_id",
                "ad_ids",
                "credential_refused",
                "requests",
                "updated_at",
            ]
        )
        if not updated:
            logger.info("Promotion %s was stopped while it was created; it stays paused.", boost.pk)


def boost_approve(*, boost: Boost, actor: User) -> Boost:
    """Four eyes on the spend: someone with the approver's permission who did not propose it."""
    if not actor.has_perm("publisher.approve_message"):
        raise NotAllowed(_("Only approvers may approve a promotion's spend."))
    with transaction.atomic():
        boost = Boost.objects.select_for_update().select_related("channel").get(pk=boost.pk)
        if boost.proposed_by_id == actor.pk:
            raise NotAllowed(_("You proposed this promotion: someone else must approve its spend."))
        if boost.state != BoostState.PROPOSED:
            raise InvalidTransition(
                _("This is not possible while the promotion is “%(state)s”.") % {"state": boost.get_state_display()}
            )
        boost.state, boost.approved_by, boost.approved_at = BoostState.ACTIVE, actor, timezone.now()
        boost.save(update_fields=["state", "approved_by", "approved_at", "updated_at"])
        audit_record(actor=actor, verb="boost.approved", obj=boost.message, summary=boost_summary(boost))
        boost_id = boost.pk

        def boost_activate_after_commit() -> None:
            enqueue.enqueue_boosts_remote("activate", [boost_id])

        transaction.on_commit(boost_activate_after_commit, robust=True)
    return boost


def boosts_remote(*, action: str, boost_ids: Sequence[int]) -> None:
    """The queued task's work (publisher.delivery.tasks.boosts_remote): Meta's calls, outside
    any transaction, for promotions whose decision has committed."""
    if action == "create":
        boosts_create_remote(list(boost_ids))
    elif action == "activate":
        for boost_id in boost_ids:
            boost_activate_remote(boost_id)
    elif action == "pause":
        boosts_pause_remote(list(boost_ids))
    else:
        raise ValueError(f"Unknown promotion action {action!r}")


def boost_activate_remote(boost_id: int) -> None:
    boost = Boost.objects.select_related("channel").get(pk=boost_id)
    client = _client(boost)
    try:
        client.promotion_activate(_ids(boost))
    except ChannelError as exc:
        # It stays paused at Meta: nothing is spent; the approver sees why.
        boost.state, boost.last_error = BoostState.FAILED, str(exc)
        boost.credential_refused = _credential_refused(boost, client, exc)
        audit_record(
            actor=None,
            actor_label="meta",
            verb="boost.failed",
            obj=boost.message,
            summary={"boost": boost.pk, "error": str(exc)},
        )
    _record_requests(boost, client)
    boost.save(update_fields=["state", "last_error", "credential_refused", "requests", "updated_at"])


def _stop_marked(boost: Boost, actor: User | None, reason: str) -> None:
    boost.state = BoostState.STOPPED
    boost.save(update_fields=["state", "updated_at"])
    audit_record(
        actor=actor,
        verb="boost.stopped",
        obj=boost.message,
        summary={"boost": boost.pk, "language": boost.language, "reason": reason},
    )


def _pause_after_commit(boost_ids: list[int]) -> None:
    def boosts_pause_after_commit() -> None:
        enqueue.enqueue_boosts_remote("pause", boost_ids)

    transaction.on_commit(boosts_pause_after_commit, robust=True)


def boost_stop(*, boost: Boost, actor: User, reason: str = "") -> Boost:
    """Stop a promotion now: paused at Meta right after the commit (one call)."""
    if not (actor.has_perm("publisher.change_message") or actor.has_perm("publisher.approve_message")):
        raise NotAllowed(_("You may not stop promotions."))
    with transaction.atomic():
        boost = Boost.objects.select_for_update().get(pk=boost.pk)
        if boost.state not in STOPPABLE:
            raise InvalidTransition(
                _("This is not possible while the promotion is “%(state)s”.") % {"state": boost.get_state_display()}
            )
        _stop_marked(boost, actor, reason)
        _pause_after_commit([boost.pk])
    return boost


def message_boosts_stop(*, message: Message, actor: User | None, reason: str) -> list[int]:
    """Inside the caller's transaction (retraction): stop every promotion of the message;
    their pauses are registered for after the commit before anything the caller adds later."""
    stopped = []
    for boost in Boost.objects.select_for_update().filter(message=message, state__in=STOPPABLE):
        _stop_marked(boost, actor, reason)
        stopped.append(boost.pk)
    if stopped:
        _pause_after_commit(stopped)
    return stopped


def boosts_pause_remote(boost_ids: Sequence[int]) -> None:
    for boost in Boost.objects.filter(pk__in=list(boost_ids)).select_related("channel"):
        if not boost.campaign_id:
            continue  # not made yet: it will be made paused and stay so
        client = _client(boost)
        try:
            client.promotion_pause(_ids(boost))
        except ChannelError as exc:
            # The periodic pull tries again (see boosts_refresh).
            boost.last_error = str(exc)
            boost.credential_refused = _credential_refused(boost, client, exc)
        else:
            boost.last_error, boost.credential_refused = "", ""
            boost.meta_status = "CAMPAIGN_PAUSED" if not boost.dry_run else boost.meta_status
        _record_requests(boost, client)
        boost.save(update_fields=["last_error", "credential_refused", "meta_status", "requests", "updated_at"])


def boosts_refresh(*, now: datetime | None = None) -> int:
    """The periodic pull: Meta's status, review and results of every promotion that may still
    change, one by one (no transaction around a call). Stops that did not reach Meta are
    tried again. Returns how many were read."""
    now = now or timezone.now()
    retry_pause = (
        Boost.objects.filter(state=BoostState.STOPPED, dry_run=False).exclude(campaign_id="").exclude(last_error="")
    )
    boosts_pause_remote(list(retry_pause.values_list("pk", flat=True)))
    read = 0
    live = (
        Boost.objects.filter(state__in=[BoostState.PROPOSED, BoostState.ACTIVE], dry_run=False)
        .exclude(campaign_id="")
        .select_related("channel")
    )
    for boost in live:
        client = _client(boost)
        try:
            results = client.promotion_results(_ids(boost))
        except ChannelError as exc:
            Boost.objects.filter(pk=boost.pk).update(
                last_error=str(exc), credential_refused=_credential_refused(boost, client, exc), updated_at=now
            )
            continue
        read += 1
        changes: dict[str, object] = {
            "meta_status": results.effective_status,
            "spend_minor": results.spend_minor,
            "reach": results.reach,
            "impressions": results.impressions,
            "results_at": now,
            "last_error": "",
            "credential_refused": "",
            "updated_at": now,
        }
        if results.effective_status in REFUSED:
            changes["state"] = BoostState.REJECTED
            changes["rejection_reason"] = results.review_feedback
        elif boost.state == BoostState.ACTIVE and now >= boost.ends_at:
            changes["state"] = BoostState.COMPLETED
        # Only from the state read: a stop in between wins.
        Boost.objects.filter(pk=boost.pk, state=boost.state).update(**changes)
    return read


# --- reading ---------------------------------------------------------------------------


def boost_display_state(boost: Boost) -> str:
    """The state in words, with Meta's review where it matters ("in review")."""
    if boost.state == BoostState.ACTIVE and boost.meta_status in IN_REVIEW:
        return _("In review at Meta")
    return str(boost.get_state_display())


def boost_access_problem(boost: Boost) -> str:
    """What to do about a credential Meta refused, in words ("" when none was)."""
    if boost.credential_refused == CredentialRefused.CHANNEL:
        return _(
            "Meta refused the access of the channel “%(channel)s” (expired or revoked): "
            "the channel needs reconnecting; its posts wait until then."
        ) % {"channel": boost.channel.name}
    if boost.credential_refused == CredentialRefused.ADS:
        return _(
            "The ad account's access expired (Meta refused its credential): renew the ad-account "
            "credential of the channel “%(channel)s”."
        ) % {"channel": boost.channel.name}
    return ""


def boosts_access_refused(*, days: int = 14) -> QuerySet[Boost]:
    """Promotions whose credential Meta refused lately, for the home page."""
    since = timezone.now() - timedelta(days=days)
    return (
        Boost.objects.exclude(credential_refused="")
        .filter(updated_at__gte=since, dry_run=False)
        .select_related("message", "channel")
        .order_by("-updated_at")
    )


def message_boosts(message: Message) -> QuerySet[Boost]:
    return (
        Boost.objects.filter(message=message)
        .select_related("channel", "proposed_by", "approved_by")
        .order_by("language", "-created_at")
    )


@dataclass(frozen=True)
class LanguageResults:
    language: str
    spend_minor: int
    reach: int
    impressions: int

    @property
    def spend(self) -> Decimal:
        return minor_to_euros(self.spend_minor)


def message_boost_results(message: Message) -> list[LanguageResults]:
    """Spend, reach and impressions per language, over the message's promotions."""
    rows = (
        Boost.objects.filter(message=message, dry_run=False)
        .values("language")
        .annotate(spend=Sum("spend_minor"), reach_sum=Sum("reach"), impressions_sum=Sum("impressions"))
        .order_by("language")
    )
    return [
        LanguageResults(r["language"], int(r["spend"] or 0), int(r["reach_sum"] or 0), int(r["impressions_sum"] or 0))
        for r in rows
    ]


def boosts_awaiting_approval(user: User) -> QuerySet[Boost]:
    """Promotions waiting for someone's approval of the spend, never the user's own."""
    if not user.has_perm("publisher.approve_message"):
        return Boost.objects.none()
    return (
        Boost.objects.filter(state=BoostState.PROPOSED)
        .exclude(proposed_by=user)
        .select_related("message", "channel", "proposed_by")
        .order_by("created_at")
    )


def boosts_running() -> QuerySet[Boost]:
    return Boost.objects.filter(state=BoostState.ACTIVE).select_related("message", "channel").order_by("ends_at")
