"""Fake Meta Marketing API, on top of the fake Graph API of a Page (tests/fakes/facebook.py),
so a promotion reuses a post the fake Page really holds.

Follows developers.facebook.com/docs/marketing-api (campaign, ad set, ad creative, ad,
insights references): the token (code 190 when expired); campaigns need `objective` among
the outcome objectives, `special_ad_categories` (a JSON array) and either their own
`lifetime_budget` (minor units) with a `bid_strategy`, or, with budgets on the ad sets,
`is_adset_budget_sharing_enabled`; ad sets need an existing campaign, a `lifetime_budget`
unless the campaign has one (then none), `end_time` after `start_time`, a billing event and an
optimization goal valid for awareness, and a `targeting` JSON whose `geo_locations.zips`
keys are `CC:code` and whose `locales` are ids, with `dsa_beneficiary` and `dsa_payor` when
they reach the EU (unless `dsa_defaults`); a budget under `min_daily_minor` per day is
refused (code 100, subcode 1885272, "Invalid parameter" with the words in
`error_user_title`/`error_user_msg`, as the Graph API's "Handling Errors" page shapes
errors and as public code handling Meta's real answers shows that subcode; under a campaign
budget, per ad set); creatives reuse a
post of the Page (`object_story_id`) or an Instagram media; ads need an ad set and a
creative. `POST /<id>` sets `status`; `GET /<ad>` answers `effective_status` and
`ad_review_feedback`; `GET /<campaign>/insights` answers spend (decimal string), reach and
impressions.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from tests.fakes.base import Reply, Request
from tests.fakes.facebook import FakeFacebook, graph_error

OBJECTIVES = {
    "OUTCOME_AWARENESS",
    "OUTCOME_ENGAGEMENT",
    "OUTCOME_LEADS",
    "OUTCOME_SALES",
    "OUTCOME_TRAFFIC",
    "OUTCOME_APP_PROMOTION",
}
CATEGORIES = {
    "NONE",
    "EMPLOYMENT",
    "HOUSING",
    "CREDIT",
    "FINANCIAL_PRODUCTS_SERVICES",
    "ISSUES_ELECTIONS_POLITICS",
    "ONLINE_GAMBLING_AND_GAMING",
}
AWARENESS_GOALS = {"REACH", "IMPRESSIONS", "AD_RECALL_LIFT", "THRUPLAY"}
BILLING_EVENTS = {"IMPRESSIONS", "THRUPLAY"}
EU = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU"}
EU |= {"LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
ZIP_KEY = re.compile(r"^[A-Z]{2}:[0-9A-Za-z ]+$")


def _invalid(message: str, subcode: int | None = None) -> Reply:
    return graph_error(400, f"(#100) {message}", 100, subcode, "OAuthException")


class FakeMetaAds(FakeFacebook):
    name = "meta-ads"

    def __init__(self) -> None:
        super().__init__()
        self.ad_account = "act_1234567890"
        self.ig_media: set[str] = set()
        self.min_daily_minor = 100
        # Digital Services Act: ads reaching the EU name their beneficiary and payer, unless
        # the ad account has defaults for them.
        self.dsa_defaults = False
        self.campaigns: dict[str, dict[str, Any]] = {}
        self.adsets: dict[str, dict[str, Any]] = {}
        self.creatives: dict[str, dict[str, Any]] = {}
        self.ads: dict[str, dict[str, Any]] = {}
        self.insights: dict[str, dict[str, str]] = {}
        v = r"/v\d+\.\d+"
        acct = v + r"/(?P<account>act_\d+)"
        self.route("POST", acct + r"/campaigns", self.campaign_create)
        self.route("POST", acct + r"/adsets", self.adset_create)
        self.route("POST", acct + r"/adcreatives", self.creative_create)
        self.route("POST", acct + r"/ads", self.ad_create)
        self.route("GET", v + r"/(?P<id>\d+)/insights", self.insights_read)
        self.route("GET", v + r"/(?P<id>\d+)", self.object_read)
        self.route("POST", v + r"/(?P<id>\d+)", self.status_update)

    # --- test controls ---------------------------------------------------------------

    def review_reject(self, ad_id: str, reason: str) -> None:
        self.ads[ad_id]["review"] = {"global": {"Misleading claims": reason}}

    def review_pass(self, ad_id: str) -> None:
        self.ads[ad_id]["review"] = None
        self.ads[ad_id]["reviewed"] = True

    def deliver(self, campaign_id: str, *, spend: str, reach: int, impressions: int) -> None:
        self.insights[campaign_id] = {"spend": spend, "reach": str(reach), "impressions": str(impressions)}

    # --- helpers -------------------------------------------------------------------

    def _account(self, request: Request) -> Reply | None:
        if request.match["account"] != self.ad_account:
            return graph_error(400, "Unsupported post request. Object does not exist.", 100, 33, "GraphMethodException")
        return None

    def _json(self, request: Request, name: str) -> Any:
        raw = request.field(name)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return ValueError

    # --- routes --------------------------------------------------------------------

    def campaign_create(self, request: Request) -> Reply:
        if failure := self._auth(request) or self._account(request):
            return failure
        if not request.field("name"):
            return _invalid("The parameter name is required")
        if request.field("objective") not in OBJECTIVES:
            return _invalid("Param objective must be one of the outcome objectives", 2490408)
        categories = self._json(request, "special_ad_categories")
        if categories is None:
            return _invalid("The parameter special_ad_categories is required")
        if not isinstance(categories, list) or not set(categories) <= CATEGORIES:
            return _invalid("Param special_ad_categories must be an array of valid categories")
        budget = request.field("lifetime_budget")
        if budget is not None:
            if not budget.isdigit() or not request.field("bid_strategy"):
                return _invalid("A campaign budget needs a whole number of minor units and a bid_strategy")
        elif request.field("is_adset_budget_sharing_enabled") not in ("true", "false"):
            return _invalid("Must specify True or False in is_adset_budget_sharing_enabled field", 4834011)
        if request.field("status") not in ("ACTIVE", "PAUSED"):
            return _invalid("Param status must be one of {ACTIVE, PAUSED}")
        campaign_id = str(next(self._ids))
        self.campaigns[campaign_id] = {
            "name": request.field("name"),
            "objective": request.field("objective"),
            "special_ad_categories": categories,
            "lifetime_budget": int(budget) if budget is not None else None,
            "status": request.field("status"),
        }
        return Reply(200, {"id": campaign_id})

    def adset_create(self, request: Request) -> Reply:
        if failure := self._auth(request) or self._account(request):
            return failure
        campaign = request.field("campaign_id") or ""
        if campaign not in self.campaigns:
            return _invalid("Param campaign_id must be a valid campaign")
        if request.field("billing_event") not in BILLING_EVENTS:
            return _invalid("Param billing_event is not valid")
        if request.field("optimization_goal") not in AWARENESS_GOALS:
            return _invalid("Optimization goal is not compatible with the campaign objective", 2490487)
        campaign_budget = self.campaigns[campaign]["lifetime_budget"]
        if campaign_budget is not None and request.field("lifetime_budget"):
            return _invalid("An ad set cannot have a budget when its campaign has one", 1885621)
        try:
            budget = campaign_budget if campaign_budget is not None else int(request.field("lifetime_budget") or "")
            start = datetime.fromisoformat(request.field("start_time") or "")
            end = datetime.fromisoformat(request.field("end_time") or "")
        except ValueError:
            return _invalid("A lifetime budget needs an end time", 1487108)
        if end <= start:
            return _invalid("The end time must be after the start time", 1487177)
        days = max(1.0, (end - start).total_seconds() / 86400)
        # Under a campaign budget each ad set still needs the minimum daily spend.
        sharing = 1 + sum(1 for a in self.adsets.values() if a["campaign_id"] == campaign)
        if campaign_budget is None:
            sharing = 1
        if budget / days < self.min_daily_minor * sharing:
            minimum = self.min_daily_minor * sharing * days / 100
            # As Meta answers it: a bare "Invalid parameter" and the words in error_user_*.
            return graph_error(
                400,
                "Invalid parameter",
                100,
                1885272,
                user_title="Budget Is Too Low",
                user_msg=f"Your budget is too low. The minimum budget for this ad set is €{minimum:.2f}.",
            )
        targeting = self._json(request, "targeting")
        if not isinstance(targeting, dict) or not isinstance(targeting.get("geo_locations"), dict):
            return _invalid("Param targeting must specify geo_locations", 1487079)
        zips = targeting["geo_locations"].get("zips") or []
        if not zips or not all(isinstance(z, dict) and ZIP_KEY.match(str(z.get("key", ""))) for z in zips):
            return _invalid("Invalid zip code keys in geo_locations", 1487756)
        locales = targeting.get("locales", [])
        if not isinstance(locales, list) or not all(isinstance(locale, int) for locale in locales):
            return _invalid("Param locales must be an array of locale ids")
        if int(targeting.get("age_min", 18)) < 13 or int(targeting.get("age_max", 65)) > 65:
            return _invalid("Age targeting out of range", 1487225)
        reaches_eu = any(str(z["key"]).split(":")[0] in EU for z in zips)
        if (
            reaches_eu
            and not self.dsa_defaults
            and not (request.field("dsa_beneficiary") and request.field("dsa_payor"))
        ):
            return _invalid("Ads reaching the European Union need dsa_beneficiary and dsa_payor")
        adset_id = str(next(self._ids))
        self.adsets[adset_id] = {
            "dsa_beneficiary": request.field("dsa_beneficiary"),
            "dsa_payor": request.field("dsa_payor"),
            "campaign_id": campaign,
            "lifetime_budget": None if campaign_budget is not None else budget,
            "start_time": request.field("start_time"),
            "end_time": request.field("end_time"),
            "targeting": targeting,
            "status": request.field("status"),
        }
        return Reply(200, {"id": adset_id})

    def creative_create(self, request: Request) -> Reply:
        if failure := self._auth(request) or self._account(request):
            return failure
        story = request.field("object_story_id")
        media = request.field("source_instagram_media_id")
        if story:
            if story not in self.posts:
                return _invalid("Invalid object_story_id", 1487472)
        elif media:
            if media not in self.ig_media or not request.field("instagram_user_id"):
                return _invalid("Invalid source_instagram_media_id or instagram_user_id")
        else:
            return _invalid("The creative needs object_story_id or source_instagram_media_id")
        creative_id = str(next(self._ids))
        self.creatives[creative_id] = {"object_story_id": story, "source_instagram_media_id": media}
        return Reply(200, {"id": creative_id})

    def ad_create(self, request: Request) -> Reply:
        if failure := self._auth(request) or self._account(request):
            return failure
        adset = request.field("adset_id") or ""
        creative = self._json(request, "creative")
        if adset not in self.adsets:
            return _invalid("Param adset_id must be a valid ad set")
        if not isinstance(creative, dict) or str(creative.get("creative_id")) not in self.creatives:
            return _invalid("Param creative must name a creative_id")
        ad_id = str(next(self._ids))
        self.ads[ad_id] = {
            "adset_id": adset,
            "creative_id": str(creative["creative_id"]),
            "status": request.field("status"),
            "review": None,
            "reviewed": False,
        }
        return Reply(200, {"id": ad_id})

    def _objects(self) -> dict[str, dict[str, Any]]:
        return {**self.campaigns, **self.adsets, **self.ads}

    def status_update(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        target = self._objects().get(request.match["id"])
        if target is None:
            return graph_error(400, "Unsupported post request.", 100, 33, "GraphMethodException")
        if request.field("status") not in ("ACTIVE", "PAUSED", "ARCHIVED", "DELETED"):
            return _invalid("Param status is not valid")
        target["status"] = request.field("status")
        return Reply(200, {"success": True})

    def effective_status(self, ad_id: str) -> str:
        ad = self.ads[ad_id]
        adset = self.adsets[ad["adset_id"]]
        campaign = self.campaigns[adset["campaign_id"]]
        if ad["review"]:
            return "DISAPPROVED"
        if campaign["status"] == "PAUSED":
            return "CAMPAIGN_PAUSED"
        if adset["status"] == "PAUSED":
            return "ADSET_PAUSED"
        if ad["status"] == "PAUSED":
            return "PAUSED"
        return "ACTIVE" if ad["reviewed"] else "PENDING_REVIEW"

    def object_read(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        ad_id = request.match["id"]
        if ad_id not in self.ads:
            return graph_error(400, "Unsupported get request.", 100, 33, "GraphMethodException")
        fields = (request.field("fields") or "id").split(",")
        answer: dict[str, Any] = {"id": ad_id}
        if "effective_status" in fields:
            answer["effective_status"] = self.effective_status(ad_id)
        if "ad_review_feedback" in fields and self.ads[ad_id]["review"]:
            answer["ad_review_feedback"] = self.ads[ad_id]["review"]
        return Reply(200, answer)

    def insights_read(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        campaign_id = request.match["id"]
        if campaign_id not in self.campaigns:
            return graph_error(400, "Unsupported get request.", 100, 33, "GraphMethodException")
        row = self.insights.get(campaign_id)
        return Reply(200, {"data": [{**row, "date_start": "2026-12-01", "date_stop": "2026-12-08"}] if row else []})

    def delete(self, request: Request) -> Reply:
        """The Page route for DELETE takes any numeric id: campaigns are deleted here too."""
        object_id = request.match["id"]
        if object_id in self.campaigns:
            if failure := self._auth(request):
                return failure
            self.campaigns.pop(object_id)
            for adset_id in [a for a, adset in self.adsets.items() if adset["campaign_id"] == object_id]:
                self.adsets.pop(adset_id)
            return Reply(200, {"success": True})
        return super().delete(request)
