"""Meta Marketing API: promote a published Facebook Page post or Instagram media as a paid,
geo-targeted ad (campaign → ad set → ad creative → ad), created PAUSED so a second person
approves the spend before anything runs.

Contract (developers.facebook.com/docs/marketing-api, Graph API v21+):
- ``POST /act_<account>/campaigns``: ``name``, ``objective`` (outcome objectives since v17:
  ``OUTCOME_AWARENESS``), ``special_ad_categories`` (required; ``[]`` when none applies),
  ``status``; here the budget is the campaign's (``lifetime_budget`` in the account
  currency's minor units, cents, with ``bid_strategy``), shared by its ad sets, so a
  promotion with two targets (with and without language targeting) spends one budget.
- ``POST /act_<account>/adsets``: ``campaign_id``, ``start_time``/``end_time`` (ISO 8601 with
  offset; required under a lifetime budget), ``billing_event=IMPRESSIONS``,
  ``optimization_goal=REACH``, ``targeting`` (JSON: ``geo_locations.zips`` keyed ``BE:1050``, ``locales`` ids,
  ``age_min``/``age_max``, ``publisher_platforms``), ``status``; an ad set reaching the EU
  names who benefits from and who pays for the ad (Digital Services Act: ``dsa_beneficiary``,
  ``dsa_payor``) unless the ad account has defaults for them.
- ``POST /act_<account>/adcreatives``: an existing Page post as ``object_story_id``
  (``<page>_<post>``), or an Instagram media as ``source_instagram_media_id`` with
  ``instagram_user_id``.
- ``POST /act_<account>/ads``: ``adset_id``, ``creative={"creative_id": …}``, ``status``.
- ``POST /<id>`` with ``status=ACTIVE|PAUSED``; pausing the campaign stops everything below.
- ``GET /<ad>?fields=effective_status,ad_review_feedback`` and
  ``GET /<campaign>/insights?fields=spend,reach,impressions&date_preset=maximum``
  (``spend`` is a decimal string in the account currency).

Errors are Graph errors (graph.py): 190 expired token, 100 with a subcode for invalid
parameters (e.g. a budget under the minimum).

Configuration comes from the promoted post's channel (Facebook or Instagram): ``config``
``ad_account_id``, ``graph_url`` (its version), ``instagram_user_id`` (Instagram; defaults
to ``ig_user_id``), ``special_ad_categories``, ``dsa_beneficiary`` and ``dsa_payor`` (e.g.
"Zone de police Bruxelles-Capitale/Ixelles"; left out, the ad account's defaults apply);
the credential is ``<secret_ref>_ADS`` when set (a separate ad-account token), else the
channel's own token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from publisher.channels.graph import graph_error
from publisher.channels.http import HttpSession
from publisher.channels.secrets import channel_secret
from publisher.models import Channel

DEFAULT_GRAPH = "https://graph.facebook.com/v21.0"
OBJECTIVE = "OUTCOME_AWARENESS"
OPTIMIZATION_GOAL = "REACH"
BILLING_EVENT = "IMPRESSIONS"
BID_STRATEGY = "LOWEST_COST_WITHOUT_CAP"
# Meta's effective_status values that mean "not decided yet" and "refused".
IN_REVIEW = frozenset({"PENDING_REVIEW", "IN_PROCESS", "PREAPPROVED"})
REFUSED = frozenset({"DISAPPROVED", "WITH_ISSUES"})


@dataclass(frozen=True)
class PromotionSpec:
    name: str
    network: str  # "facebook" or "instagram": which post the creative reuses
    post_id: str
    budget_minor: int
    starts_at: datetime
    ends_at: datetime
    targetings: list[dict[str, Any]]  # one ad set each


@dataclass
class PromotionIds:
    campaign_id: str = ""
    adset_ids: list[str] = field(default_factory=list)
    creative_id: str = ""
    ad_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PromotionResults:
    effective_status: str
    review_feedback: str
    spend_minor: int
    reach: int
    impressions: int


@dataclass(frozen=True)
class BuiltRequest:
    """A request as it is (or would be) sent, without its credential."""

    method: str
    path: str
    params: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "params": dict(self.params)}


@dataclass
class MetaAds:
    """The Marketing API for one channel's ad account. With ``send=False`` (exercise, dry
    run) every request is built and recorded in ``built`` and nothing leaves the process."""

    channel: Channel
    send: bool = True
    built: list[BuiltRequest] = field(default_factory=list)
    _dry_ids: int = 0

    @property
    def graph(self) -> str:
        return str(self.channel.config.get("graph_url", DEFAULT_GRAPH)).rstrip("/")

    @property
    def account(self) -> str:
        account = str(self.channel.config.get("ad_account_id", "")).strip()
        return account if account.startswith("act_") else f"act_{account}"

    @property
    def uses_channel_token(self) -> bool:
        """True when no separate ad-account credential (``<secret_ref>_ADS``) is set: a refused
        token is then the channel's own, and the channel needs reconnecting."""
        return not channel_secret(self.channel, "ads", required=False)

    def _token(self) -> str:
        return channel_secret(self.channel, "ads", required=False) or channel_secret(self.channel)

    def _call(self, method: str, path: str, params: dict[str, str]) -> dict[str, Any]:
        self.built.append(BuiltRequest(method, path, params))
        if not self.send:
            self._dry_ids += 1
            return {"id": f"dry-run-{self._dry_ids}", "success": True}
        token = self._token()
        session = HttpSession(
            config=self.channel.config,
            secrets=[token],
            to_error=lambda response: graph_error(response, token),
            headers={"Authorization": f"Bearer {token}"},
        )
        with session as http:
            url = f"{self.graph}/{path}"
            if method == "GET":
                response = http.request("GET", url, params=params)
            else:
                response = http.request(method, url, data=params)
        answer = response.json()
        return answer if isinstance(answer, dict) else {}

    def campaign_params(self, spec: PromotionSpec) -> dict[str, str]:
        categories = self.channel.config.get("special_ad_categories", [])
        return {
            "name": spec.name,
            "objective": OBJECTIVE,
            "special_ad_categories": json.dumps(list(categories)),
            "buying_type": "AUCTION",
            "lifetime_budget": str(spec.budget_minor),
            "bid_strategy": BID_STRATEGY,
            "status": "PAUSED",
        }

    def adset_params(self, spec: PromotionSpec, campaign_id: str, targeting: dict[str, Any]) -> dict[str, str]:
        targeting = {**targeting, "publisher_platforms": [spec.network]}
        return {
            "name": spec.name,
            "campaign_id": campaign_id,
            "start_time": spec.starts_at.isoformat(),
            "end_time": spec.ends_at.isoformat(),
            "billing_event": BILLING_EVENT,
            "optimization_goal": OPTIMIZATION_GOAL,
            "targeting": json.dumps(targeting, sort_keys=True),
            "status": "PAUSED",
            **{
                name: str(self.channel.config[name]).strip()
                for name in ("dsa_beneficiary", "dsa_payor")
                if str(self.channel.config.get(name, "")).strip()
            },
        }

    def creative_params(self, spec: PromotionSpec) -> dict[str, str]:
        if spec.network == "instagram":
            config = self.channel.config
            return {
                "name": spec.name,
                "source_instagram_media_id": spec.post_id,
                "instagram_user_id": str(config.get("instagram_user_id") or config.get("ig_user_id", "")),
            }
        return {"name": spec.name, "object_story_id": spec.post_id}

    def promotion_create(self, spec: PromotionSpec) -> PromotionIds:
        """Campaign, its ad sets (one per target), the creative and one ad per ad set, all
        PAUSED. If a step fails, the campaign made so far is deleted (with everything under it)
        before the error is raised."""
        ids = PromotionIds()
        answer = self._call("POST", f"{self.account}/campaigns", self.campaign_params(spec))
        ids.campaign_id = str(answer["id"])
        try:
            for targeting in spec.targetings:
                params = self.adset_params(spec, ids.campaign_id, targeting)
                ids.adset_ids.append(str(self._call("POST", f"{self.account}/adsets", params)["id"]))
            ids.creative_id = str(self._call("POST", f"{self.account}/adcreatives", self.creative_params(spec))["id"])
            creative = json.dumps({"creative_id": ids.creative_id})
            for adset_id in ids.adset_ids:
                params = {"name": spec.name, "adset_id": adset_id, "creative": creative, "status": "PAUSED"}
                ids.ad_ids.append(str(self._call("POST", f"{self.account}/ads", params)["id"]))
        except Exception:
            self._discard(ids.campaign_id)
            raise
        return ids

    def _discard(self, campaign_id: str) -> None:
        try:
            self._call("DELETE", campaign_id, {})
        except Exception:  # noqa: BLE001, S110 - the original error is the one to report
            pass

    def promotion_activate(self, ids: PromotionIds) -> None:
        # The campaign last: nothing can deliver before every level says ACTIVE.
        for object_id in (*ids.ad_ids, *ids.adset_ids, ids.campaign_id):
            self._call("POST", object_id, {"status": "ACTIVE"})

    def promotion_pause(self, ids: PromotionIds) -> None:
        """One call: a paused campaign stops its ad sets and ads at once."""
        self._call("POST", ids.campaign_id, {"status": "PAUSED"})

    def promotion_results(self, ids: PromotionIds) -> PromotionResults:
        """Campaign insights, and the ads' review: refused if one is, in review while one is."""
        ads = [self._call("GET", ad_id, {"fields": "effective_status,ad_review_feedback"}) for ad_id in ids.ad_ids]
        statuses = [str(ad.get("effective_status", "")) for ad in ads]
        status = next(
            (s for group in (REFUSED, IN_REVIEW) for s in statuses if s in group), statuses[0] if statuses else ""
        )
        insights = self._call(
            "GET",
            f"{ids.campaign_id}/insights",
            {"fields": "spend,reach,impressions", "date_preset": "maximum"},
        )
        rows = insights.get("data") or [{}]
        row = rows[0] if isinstance(rows, list) and rows else {}
        return PromotionResults(
            effective_status=status,
            review_feedback="; ".join(filter(None, (review_reason(ad.get("ad_review_feedback")) for ad in ads))),
            spend_minor=minor_units(row.get("spend")),
            reach=int(row.get("reach") or 0),
            impressions=int(row.get("impressions") or 0),
        )


def minor_units(amount: Any) -> int:
    """Insights give spend as a decimal string in the account currency ("12.34")."""
    try:
        return int((Decimal(str(amount or "0")) * 100).to_integral_value())
    except InvalidOperation:
        return 0


def review_reason(feedback: Any) -> str:
    """`ad_review_feedback` is ``{"global": {"<policy>": "<why>"}, "placement_specific": …}``."""
    if not isinstance(feedback, dict):
        return ""
    reasons: list[str] = []
    for scope in feedback.values():
        if isinstance(scope, dict):
            reasons.extend(f"{policy}: {why}" if why else str(policy) for policy, why in scope.items())
    return "; ".join(reasons)[:300]
