"""Meta login for Facebook Pages and Instagram professional accounts (Graph API), shared
by the connect flow of both adapters (which stay independent of each other).

The steps (developers.facebook.com: facebook-login/guides/advanced/manual-flow,
facebook-login/guides/access-tokens/get-long-lived, pages-api/getting-started,
instagram-platform/instagram-api-with-facebook-login):

1. the OAuth dialog (www.facebook.com/vXX.0/dialog/oauth) with client_id, redirect_uri,
   state, scope, response_type=code;
2. GET /oauth/access_token with the code → a short-lived user token;
3. GET /oauth/access_token?grant_type=fb_exchange_token → a long-lived user token (~60 days);
4. GET /me/accounts → the Pages the user manages, each with its Page token (one derived
   from a long-lived user token has no expiry) and the tasks the user may do there, and the
   Instagram professional account linked to the Page (field instagram_business_account).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils.translation import gettext_noop

from publisher.channels import oauth
from publisher.channels.base import PermanentError
from publisher.channels.graph import graph_error

# Publish on a Page (pages-api/getting-started: pages_manage_metadata, pages_manage_posts,
# pages_read_engagement, pages_show_list) and on its linked Instagram account (instagram_basic,
# instagram_content_publish; business_management where the Page is in a business portfolio).
SCOPES = ",".join(
    (
        "pages_show_list",
        "pages_read_engagement",
        "pages_manage_metadata",
        "pages_manage_posts",
        "business_management",
        "instagram_basic",
        "instagram_content_publish",
    )
)
# A Page token lets Tandem post only where the user may create content.
POSTING_TASK = "CREATE_CONTENT"


@dataclass(frozen=True)
class Page:
    id: str
    name: str
    token: str = field(repr=False)
    may_post: bool
    instagram_id: str = ""
    instagram_username: str = ""


def graph_url(config: Mapping[str, Any] | None = None) -> str:
    return str((config or {}).get("graph_url") or settings.TANDEM_META_GRAPH_URL).rstrip("/")


def dialog_url(*, redirect_uri: str, state: str) -> str:
    query = {
        "client_id": settings.TANDEM_META_APP_ID,
        "redirect_uri": redirect_uri,
        "state": state,
        "scope": SCOPES,
        "response_type": "code",
    }
    return f"{settings.TANDEM_META_DIALOG_URL}?{urlencode(query)}"


def _get(graph: str, path: str, params: Mapping[str, str], *hidden: str, bearer: str = "") -> Any:
    secrets = (*hidden, bearer, settings.TANDEM_META_APP_SECRET)
    return oauth.json_request(
        "GET",
        f"{graph}/{path}",
        config={"graph_url": graph},
        secrets=secrets,
        bearer=bearer,
        params=dict(params),
        to_error=lambda response: graph_error(response, *secrets),
    )


def _token(body: Any) -> str:
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise PermanentError(gettext_noop("Meta answered without an access token."))
    return token


def user_token(graph: str, *, code: str, redirect_uri: str) -> str:
    """The code → a short-lived user token → a long-lived one."""
    app = {"client_id": settings.TANDEM_META_APP_ID, "client_secret": settings.TANDEM_META_APP_SECRET}
    short = _token(_get(graph, "oauth/access_token", {**app, "redirect_uri": redirect_uri, "code": code}, code))
    return _token(
        _get(graph, "oauth/access_token", {**app, "grant_type": "fb_exchange_token", "fb_exchange_token": short}, short)
    )


def pages(graph: str, token: str) -> list[Page]:
    """The Pages the user manages, with their Page tokens and linked Instagram accounts."""
    body = _get(
        graph,
        "me/accounts",
        {"fields": "id,name,access_token,tasks,instagram_business_account{id,username}", "limit": "100"},
        bearer=token,
    )
    found = []
    for row in body.get("data", []) if isinstance(body, dict) else []:
        if not isinstance(row, dict) or not row.get("id") or not row.get("access_token"):
            continue
        instagram = row.get("instagram_business_account")
        instagram = instagram if isinstance(instagram, dict) else {}
        tasks = row.get("tasks")
        tasks = tasks if isinstance(tasks, list) else []
        found.append(
            Page(
                id=str(row["id"]),
                name=str(row.get("name") or row["id"]),
                token=str(row["access_token"]),
                may_post=POSTING_TASK in tasks,
                instagram_id=str(instagram.get("id") or ""),
                instagram_username=str(instagram.get("username") or ""),
            )
        )
    return found
