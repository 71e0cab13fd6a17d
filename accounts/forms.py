from django import forms
from django.utils.translation import gettext_lazy as _


class SecondFactorCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=40,
        help_text=_("The 6-digit code from your authenticator app, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "size": 24}),
    )


class SecondFactorEnrolForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the app"),
        max_length=12,
        help_text=_("The 6-digit code your authenticator app shows for Tandem now."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "size": 10}
        ),
    )
    current_code = forms.CharField(
        label=_("Code from your current second factor"),
        max_length=40,
        required=False,
        help_text=_("You are replacing a second factor: give a code from it, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "size": 24}),
    )

    def __init__(self, *args: object, replacing: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if replacing:
            self.fields["current_code"].required = True
        else:
            del self.fields["current_code"]
