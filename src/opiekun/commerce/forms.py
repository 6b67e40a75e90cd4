"""The connector form of the desk's shop connections screen (labels in this app's catalogue)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Platform


class ConnectorForm(forms.Form):
    platform = forms.ChoiceField(label=_("Platform"), choices=Platform.choices)
    label = forms.CharField(label=_("Name"), max_length=120, required=False)
    base_url = forms.URLField(label=_("Shop address"), max_length=300, required=False, assume_scheme="https")
    consumer_key = forms.CharField(label=_("Consumer key"), max_length=200, required=False)
    consumer_secret = forms.CharField(label=_("Consumer secret"), max_length=200, required=False)
    access_token = forms.CharField(label=_("Admin API access token"), max_length=200, required=False)
    api_token = forms.CharField(label=_("API token"), max_length=200, required=False)
    webhook_secret = forms.CharField(
        label=_("Webhook secret"),
        max_length=200,
        required=False,
        help_text=_(
            "The signing secret set in the shop (Shopify: the app's client secret). Empty: we make one."
        ),
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        platform = data.get("platform")
        needs_url = platform in (Platform.WOOCOMMERCE, Platform.SHOPIFY)
        if needs_url and not data.get("base_url"):
            self.add_error("base_url", _("The shop's address is needed to fetch its orders."))
        return data

    def credentials(self) -> dict[str, str]:
        return {
            k: self.cleaned_data.get(k) or ""
            for k in ("consumer_key", "consumer_secret", "access_token", "api_token")
        }
