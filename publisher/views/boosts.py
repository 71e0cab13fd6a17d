"""The "Boost" panel of a message page (propose a paid promotion, approve its spend, stop
it) and the home page's promotions. Every write goes through workflow.boosts."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from publisher.errors import ValidationError
from publisher.models import Boost, Language, Message
from publisher.views.forms import local_time_parse
from publisher.views.messages import _message_or_404, _page_url, _user, act_and_redirect, post_only
from publisher.workflow import boosts

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    from accounts.models import User

NETWORK_LABELS = {"facebook": "Facebook", "instagram": "Instagram"}


class BoostForm(forms.Form):
    network = forms.ChoiceField(label=gettext_lazy("Post to promote"), choices=())
    budget_fr = forms.DecimalField(
        label=gettext_lazy("Budget for the French post (€, total)"),
        required=False,
        min_value=0,
        decimal_places=2,
        max_digits=8,
    )
    budget_nl = forms.DecimalField(
        label=gettext_lazy("Budget for the Dutch post (€, total)"),
        required=False,
        min_value=0,
        decimal_places=2,
        max_digits=8,
    )
    starts_at = forms.CharField(
        label=gettext_lazy("Start (Brussels time)"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.CharField(
        label=gettext_lazy("End (Brussels time)"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    age_min = forms.IntegerField(label=gettext_lazy("Minimum age (optional)"), required=False)
    age_max = forms.IntegerField(label=gettext_lazy("Maximum age (optional)"), required=False)

    def __init__(self, *args: Any, networks: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        network = self.fields["network"]
        assert isinstance(network, forms.ChoiceField)
        network.choices = [(n, NETWORK_LABELS[n]) for n in networks]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for name in ("starts_at", "ends_at"):
            if data.get(name):
                try:
                    data[name] = local_time_parse(data[name])
                except ValidationError as exc:
                    self.add_error(name, exc)
        return data

    def request(self) -> boosts.BoostRequest:
        data = self.cleaned_data
        budgets: dict[str, Decimal] = {
            str(lang): data[f"budget_{lang}"] for lang in (Language.FR, Language.NL) if data.get(f"budget_{lang}")
        }
        return boosts.BoostRequest(
            network=data["network"],
            budgets=budgets,
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            age_min=data.get("age_min"),
            age_max=data.get("age_max"),
        )


def boostable_networks(message: Message) -> list[str]:
    return [n for n in boosts.NETWORKS if boosts.boostable_deliveries(message, n)]


def boost_panel(user: User, message: Message, form: BoostForm | None = None) -> dict[str, Any]:
    """What the message page shows about promotions."""
    rows = list(boosts.message_boosts(message))
    networks = boostable_networks(message) if message.state in boosts.BOOSTABLE else []
    return {
        "boosts": [
            {
                "boost": b,
                "state": boosts.boost_display_state(b),
                "access_problem": boosts.boost_access_problem(b),
                "budget": boosts.minor_to_euros(b.budget_minor),
                "spend": boosts.minor_to_euros(b.spend_minor),
                "can_approve": b.state == "proposed"
                and user.has_perm("publisher.approve_message")
                and b.proposed_by_id != user.pk,
                "can_stop": b.state in boosts.STOPPABLE
                and (user.has_perm("publisher.change_message") or user.has_perm("publisher.approve_message")),
            }
            for b in rows
        ],
        "results": boosts.message_boost_results(message),
        "boost_form": form
        if form is not None
        else (
            BoostForm(prefix="boost", networks=networks)
            if networks and user.has_perm("publisher.change_message")
            else None
        ),
        "message": message,
    }


@post_only
def boost_propose_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str) -> HttpResponse:
    message = _message_or_404(request, object_id)
    user = _user(request)
    if not user.has_perm("publisher.change_message"):
        raise PermissionDenied
    form = BoostForm(request.POST, prefix="boost", networks=boostable_networks(message))
    if not form.is_valid():
        for field, errors in form.errors.items():
            for error in errors:
                text = str(error)
                flash.error(request, f"{form.fields[field].label}: {text}" if field in form.fields else text)
        return HttpResponseRedirect(_page_url(message) + "#boosts")
    return act_and_redirect(
        request,
        lambda: boosts.message_boost_propose(message=message, request=form.request(), actor=user),
        _("Promotion proposed: it is prepared paused at Meta and runs once someone else approves the spend."),
        _page_url(message) + "#boosts",
    )


def _boost_or_404(boost_id: int) -> Boost:
    try:
        return get_object_or_404(Boost, pk=boost_id)
    except ValueError as exc:
        raise Http404 from exc


@post_only
def boost_approve_view(model_admin: ModelAdmin[Message], request: HttpRequest, boost_id: int) -> HttpResponse:
    boost = _boost_or_404(boost_id)
    user = _user(request)
    return act_and_redirect(
        request,
        lambda: boosts.boost_approve(boost=boost, actor=user),
        _("Spend approved: the promotion is switched on at Meta."),
        _page_url(boost.message) + "#boosts",
    )


@post_only
def boost_stop_view(model_admin: ModelAdmin[Message], request: HttpRequest, boost_id: int) -> HttpResponse:
    boost = _boost_or_404(boost_id)
    user = _user(request)
    return act_and_redirect(
        request,
        lambda: boosts.boost_stop(boost=boost, actor=user, reason=request.POST.get("reason", "")),
        _("Promotion stopped: it is paused at Meta."),
        _page_url(boost.message) + "#boosts",
    )
