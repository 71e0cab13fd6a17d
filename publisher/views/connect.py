"""Connect a channel's account from its admin page, per network, and disconnect it.

Each kind's adapter names its flow (`connect_flow`); `CONNECT_VIEWS` maps a flow to the view
that runs it at ``<channel id>/connect/<flow>/``. The forms never show a stored secret back:
password fields start empty, and a secret Tandem makes (a webhook's `whsec_` key) is shown
once, on a page no cache keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.channels import credentials, registry
from publisher.errors import ValidationError
from publisher.models import Channel, ConnectFlow
from publisher.views.messages import post_only
from publisher.workflow import connections, oauth

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

ConnectView = Callable[..., HttpResponse]


class BlueskyConnectForm(forms.Form):
    handle = forms.CharField(
        label=gettext_lazy("Handle"), max_length=253, help_text=gettext_lazy("e.g. politie.brussel.bsky.social")
    )
    app_password = forms.CharField(
        label=gettext_lazy("App password"),
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy(
            "Made for Tandem in the account's Bluesky settings (Privacy and security → App passwords); "
            "never the account's own password. Tandem keeps only the session it opens, not this password."
        ),
    )
    pds_url = forms.URLField(
        label=gettext_lazy("Server (PDS)"),
        required=False,
        assume_scheme="https",
        help_text=gettext_lazy("Leave empty for an account on bsky.social."),
    )


class TelegramConnectForm(forms.Form):
    bot_token = forms.CharField(
        label=gettext_lazy("Bot token"),
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("From @BotFather. The bot must be an administrator of the channel, allowed to post."),
    )
    chat_id = forms.CharField(
        label=gettext_lazy("Channel"),
        max_length=100,
        help_text=gettext_lazy("Its @name (e.g. @politie_zone_brussel) or its numeric id."),
    )


class SmtpConnectForm(forms.Form):
    host = forms.CharField(label=gettext_lazy("SMTP server"), max_length=253)
    port = forms.IntegerField(label=gettext_lazy("Port"), min_value=1, max_value=65535, initial=587)
    security = forms.ChoiceField(
        label=gettext_lazy("Encryption"),
        choices=[
            ("starttls", gettext_lazy("STARTTLS (usually port 587)")),
            ("ssl", gettext_lazy("TLS from the start (usually port 465)")),
            ("none", gettext_lazy("None (a relay inside your network only)")),
        ],
        initial="starttls",
    )
    username = forms.CharField(label=gettext_lazy("User"), max_length=254, required=False)
    password = forms.CharField(
        label=gettext_lazy("Password"),
        max_length=500,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def _admin_user(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    if not user.has_perm("publisher.change_channel"):
        raise PermissionDenied
    return user


def _channel(object_id: str) -> Channel:
    return get_object_or_404(Channel.objects.select_related("credential"), pk=object_id)


def _change_url(channel: Channel) -> str:
    return reverse("admin:publisher_channel_change", args=[channel.pk])


def _page(
    model_admin: ModelAdmin[Channel],
    request: HttpRequest,
    channel: Channel,
    template: str,
    title: str,
    **extra: Any,
) -> TemplateResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Channel._meta,
        "original": channel,
        "channel": channel,
        "title": title,
        "change_url": _change_url(channel),
        **extra,
    }
    response = TemplateResponse(request, template, context)
    # Connect pages carry secrets typed or shown once: no cache may keep them.
    response["Cache-Control"] = "no-store"
    return response


def _form_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        for error in exc.messages:
            form.add_error(None, error)


def _form_flow(
    form_class: type[forms.Form],
    initial: Callable[[Channel], dict[str, Any]],
    connect: Callable[[Channel, User, dict[str, Any]], Channel],
) -> ConnectView:
    def view(model_admin: ModelAdmin[Channel], request: HttpRequest, channel: Channel) -> HttpResponse:
        user = _admin_user(request)
        if request.method == "POST":
            form = form_class(request.POST)
            if form.is_valid():
                try:
                    connect(channel, user, form.cleaned_data)
                except ValidationError as exc:
                    _form_errors(form, exc)
                else:
                    messages.success(request, _("%(channel)s is connected.") % {"channel": channel.name})
                    return HttpResponseRedirect(_change_url(channel))
        else:
            form = form_class(initial=initial(channel))
        return _page(
            model_admin,
            request,
            channel,
            "admin/publisher/channel/connect.html",
            _("Connect %(channel)s") % {"channel": channel.name},
            form=form,
        )

    return view


def _config(channel: Channel, *keys: str) -> dict[str, Any]:
    return {key: channel.config[key] for key in keys if channel.config.get(key) not in (None, "")}


bluesky_view = _form_flow(
    BlueskyConnectForm,
    lambda channel: {**_config(channel, "pds_url"), **({"handle": channel.config.get("identifier", "")})},
    lambda channel, user, data: connections.bluesky_connect(
        channel=channel, handle=data["handle"], app_password=data["app_password"], pds_url=data["pds_url"], actor=user
    ),
)
telegram_view = _form_flow(
    TelegramConnectForm,
    lambda channel: _config(channel, "chat_id"),
    lambda channel, user, data: connections.telegram_connect(
        channel=channel, bot_token=data["bot_token"], chat_id=data["chat_id"], actor=user
    ),
)
smtp_view = _form_flow(
    SmtpConnectForm,
    lambda channel: _config(channel, "host", "port", "security", "username"),
    lambda channel, user, data: connections.smtp_connect(
        channel=channel,
        host=data["host"],
        port=data["port"],
        security=data["security"],
        username=data["username"],
        password=data["password"],
        actor=user,
    ),
)


def webhook_view(model_admin: ModelAdmin[Channel], request: HttpRequest, channel: Channel) -> HttpResponse:
    """GET: what will happen; POST: a new secret (replacing any other at once), shown once."""
    user = _admin_user(request)
    if request.method == "POST":
        secret = connections.webhook_secret_generate(channel=channel, actor=user)
        return _page(
            model_admin,
            request,
            channel,
            "admin/publisher/channel/secret_once.html",
            _("The signing secret of %(channel)s") % {"channel": channel.name},
            secret=secret,
        )
    return _page(
        model_admin,
        request,
        channel,
        "admin/publisher/channel/connect.html",
        _("Connect %(channel)s") % {"channel": channel.name},
        webhook=True,
    )


# --- OAuth: sign in at the network ------------------------------------------------------------

NETWORK_NAMES = {"mastodon": "Mastodon", "x": "X", "facebook": "Facebook", "instagram": "Facebook (Meta)"}


class MastodonServerForm(forms.Form):
    base_url = forms.CharField(
        label=gettext_lazy("Mastodon server"),
        max_length=300,
        help_text=gettext_lazy(
            "The address of the account's server, e.g. mastodon.social or https://social.politie.be. "
            "You will sign in there and allow Tandem to post."
        ),
    )


class ContinueForm(forms.Form):
    pass


def oauth_redirect_uri() -> str:
    """The callback every network sends the browser back to: registered with each network
    (Mastodon apps, X and Meta app settings), so it is built from TANDEM_PUBLIC_URL."""
    return settings.TANDEM_PUBLIC_URL.rstrip("/") + reverse("admin:publisher_channel_oauth_callback")


def oauth_view(model_admin: ModelAdmin[Channel], request: HttpRequest, channel: Channel) -> HttpResponse:
    """GET: what will happen (Mastodon: which server); POST: off to the network's sign-in."""
    user = _admin_user(request)
    form_class = MastodonServerForm if channel.kind == "mastodon" else ContinueForm
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                url = oauth.oauth_start(
                    channel=channel,
                    actor=user,
                    session=request.session,
                    redirect_uri=oauth_redirect_uri(),
                    base_url=form.cleaned_data.get("base_url", ""),
                    language=(get_language() or "")[:2],
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                return HttpResponseRedirect(url)
    else:
        form = form_class(initial=_config(channel, "base_url"))
    return _page(
        model_admin,
        request,
        channel,
        "admin/publisher/channel/connect.html",
        _("Connect %(channel)s") % {"channel": channel.name},
        form=form,
        oauth_network=NETWORK_NAMES.get(channel.kind, channel.kind),
    )


def oauth_callback_view(model_admin: ModelAdmin[Channel], request: HttpRequest) -> HttpResponse:
    """Where the network sends the browser back, with ?code&state or ?error&state."""
    user = _admin_user(request)
    state = request.GET.get("state", "")
    # Where to go back to if it fails: the channel this session started the sign-in for.
    pending = (request.session.get(oauth.SESSION_KEY) or {}).get(state) or {}
    back = (
        reverse("admin:publisher_channel_change", args=[pending["channel"]])
        if pending.get("user") == user.pk and isinstance(pending.get("channel"), int)
        else reverse("admin:publisher_channel_changelist")
    )
    try:
        finished = oauth.oauth_finish(
            session=request.session,
            actor=user,
            state=state,
            code=request.GET.get("code", ""),
            error=request.GET.get("error", ""),
            error_description=request.GET.get("error_description", ""),
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return HttpResponseRedirect(back)
    if finished.pages_key:
        return HttpResponseRedirect(reverse("admin:publisher_channel_oauth_pages", args=[finished.pages_key]))
    messages.success(request, _("%(channel)s is connected.") % {"channel": finished.channel.name})
    return HttpResponseRedirect(_change_url(finished.channel))


class PageChoiceForm(forms.Form):
    page = forms.ChoiceField(label=gettext_lazy("Facebook Page"), widget=forms.RadioSelect)
    instagram = forms.ChoiceField(label=gettext_lazy("Its Instagram account"), required=False)

    def __init__(self, *args: Any, channel: Channel, pages: list[oauth.PageChoice], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        page_field: forms.ChoiceField = self.fields["page"]  # type: ignore[assignment]
        page_field.choices = [
            (
                page.id,
                page.name
                + (f" — Instagram @{page.instagram_username}" if page.instagram_username else "")
                + ("" if page.may_post else " " + _("(you may not publish there)")),
            )
            for page in pages
        ]
        if channel.kind == "instagram":
            self.fields["page"].help_text = _("The Instagram account linked to the Page you choose is connected.")
            del self.fields["instagram"]
        else:
            others = Channel.objects.filter(kind="instagram").order_by("name")
            instagram_field: forms.ChoiceField = self.fields["instagram"]  # type: ignore[assignment]
            instagram_field.choices = [
                ("", _("Do not connect it")),
                (oauth.INSTAGRAM_NEW, _("Make a new Instagram channel for it")),
                *((str(other.pk), _("Connect the channel %(name)s") % {"name": other.name}) for other in others),
            ]
            self.fields["instagram"].help_text = _(
                "If an Instagram professional account is linked to the Page, Tandem can publish there too."
            )


def oauth_pages_view(model_admin: ModelAdmin[Channel], request: HttpRequest, key: str) -> HttpResponse:
    """Meta: choose the Page (and its Instagram account) among those the user manages."""
    user = _admin_user(request)
    try:
        channel, pages = oauth.meta_pages(session=request.session, key=key, actor=user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return HttpResponseRedirect(reverse("admin:publisher_channel_changelist"))
    if request.method == "POST":
        form = PageChoiceForm(request.POST, channel=channel, pages=pages)
        if form.is_valid():
            try:
                connected = oauth.meta_page_choose(
                    session=request.session,
                    key=key,
                    actor=user,
                    page_id=form.cleaned_data["page"],
                    instagram=form.cleaned_data.get("instagram") or "",
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                for done in connected:
                    messages.success(request, _("%(channel)s is connected.") % {"channel": done.name})
                return HttpResponseRedirect(_change_url(channel))
    else:
        form = PageChoiceForm(channel=channel, pages=pages)
    return _page(
        model_admin,
        request,
        channel,
        "admin/publisher/channel/connect.html",
        _("Choose the Page for %(channel)s") % {"channel": channel.name},
        form=form,
        choose_page=True,
    )


CONNECT_VIEWS: dict[str, ConnectView] = {
    ConnectFlow.APP_PASSWORD: bluesky_view,
    ConnectFlow.BOT_TOKEN: telegram_view,
    ConnectFlow.WEBHOOK_SECRET: webhook_view,
    ConnectFlow.SMTP: smtp_view,
    ConnectFlow.OAUTH: oauth_view,
}


def connect_view(model_admin: ModelAdmin[Channel], request: HttpRequest, object_id: str, flow: str) -> HttpResponse:
    channel = _channel(object_id)
    view = CONNECT_VIEWS.get(flow)
    if view is None or _flow_of(channel) != flow:
        raise Http404(_("This channel is not connected this way."))
    return view(model_admin, request, channel)


@post_only
def webhook_rotate_view(model_admin: ModelAdmin[Channel], request: HttpRequest, object_id: str) -> HttpResponse:
    user = _admin_user(request)
    channel = _channel(object_id)
    if _flow_of(channel) != ConnectFlow.WEBHOOK_SECRET:
        raise Http404
    secret, until = connections.webhook_secret_rotate(channel=channel, actor=user)
    return _page(
        model_admin,
        request,
        channel,
        "admin/publisher/channel/secret_once.html",
        _("The new signing secret of %(channel)s") % {"channel": channel.name},
        secret=secret,
        overlap_until=until,
    )


@post_only
def disconnect_view(model_admin: ModelAdmin[Channel], request: HttpRequest, object_id: str) -> HttpResponse:
    user = _admin_user(request)
    channel = _channel(object_id)
    refusal = connections.channel_disconnect(channel=channel, actor=user)
    if refusal:
        messages.warning(
            request,
            _("%(channel)s is disconnected; the network did not confirm the revocation (%(error)s).")
            % {"channel": channel.name, "error": refusal},
        )
    else:
        messages.success(
            request,
            _("%(channel)s is disconnected: its posts are held until it is connected again.")
            % {"channel": channel.name},
        )
    return HttpResponseRedirect(_change_url(channel))


def _flow_of(channel: Channel) -> str:
    cls = registry.adapter_classes().get(channel.kind)
    return cls.connect_flow if cls is not None else ""


def _local(moment: Any) -> str:
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT") if moment else ""


def connection_context(channel: Channel) -> dict[str, Any]:
    """What the channel page's "Connection" box shows: never a secret."""
    flow = _flow_of(channel)
    row = credentials.credential_row(channel)
    return {
        "flow": flow,
        "flow_label": ConnectFlow(flow).label if flow in ConnectFlow.values else "",
        "connect_url": reverse("admin:publisher_channel_connect", args=[channel.pk, flow])
        if flow in CONNECT_VIEWS
        else "",
        "disconnect_url": reverse("admin:publisher_channel_disconnect", args=[channel.pk]),
        "rotate_url": reverse("admin:publisher_channel_rotate", args=[channel.pk])
        if flow == ConnectFlow.WEBHOOK_SECRET
        else "",
        "connected": row is not None,
        "account": row.account if row else "",
        "connected_at": _local(row.connected_at) if row else "",
        "connected_by": row.connected_by.get_username() if row and row.connected_by else "",
        "expires_at": _local(row.expires_at) if row else "",
        "refresh_expires_at": _local(row.refresh_expires_at) if row else "",
        "refreshed_at": _local(row.refreshed_at) if row else "",
        "secret_ref": channel.secret_ref,
        "needs_reconnect": channel.needs_reconnect,
        "needs_reconnect_reason": channel.needs_reconnect_reason,
        "instance_limits": _instance_limits(channel),
    }


def _instance_limits(channel: Channel) -> str:
    """A Mastodon instance's limits as read back at connection (shown, never a secret)."""
    config = channel.config or {}
    if channel.kind != "mastodon" or not config.get("max_characters"):
        return ""
    return _("%(chars)s characters per post, %(media)s images, image descriptions up to %(alt)s characters.") % {
        "chars": config.get("max_characters"),
        "media": config.get("max_media_attachments", "?"),
        "alt": config.get("description_limit", "?"),
    }
