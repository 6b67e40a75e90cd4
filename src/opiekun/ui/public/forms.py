"""The public forms: contact form, portal reply, "send me a new link"."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from opiekun.contacts import normalise

MAX_MESSAGE = 20_000


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; their type and size are judged by the attachment rules."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(
        label=_("E-mail"),
        max_length=254,
        error_messages={"invalid": _("Enter an e-mail address like name@example.com.")},
    )
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    order_ref = forms.CharField(label=_("Order number"), max_length=64, required=False)
    message = forms.CharField(
        label=_("How can we help?"),
        max_length=MAX_MESSAGE,
        error_messages={"required": _("Please write your message.")},
    )
    attachments = MultipleFileField(label=_("Attachments"), required=False)
    # The honeypot: hidden from people and from screen readers; bots fill every field they see.
    website = forms.CharField(required=False, max_length=200)
    # Where an embedded form was shown (the shop's page), kept in the message's meta.
    page_url = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].error_messages["required"] = _("Please tell us your name.")
        self.fields["email"].error_messages["required"] = _("We need your e-mail address to answer you.")

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"].strip()
        if not raw:
            return ""
        try:
            return normalise.phone(raw)
        except ValueError:
            raise forms.ValidationError(
                _("We could not read this phone number. Write it with digits, e.g. +48 600 700 800."),
                code="phone",
            ) from None

    def clean_message(self) -> str:
        text = self.cleaned_data["message"].replace("\r\n", "\n").strip()
        if not text:
            raise forms.ValidationError(_("Please write your message."), code="required")
        return text

    def clean_page_url(self) -> str:
        url = self.cleaned_data["page_url"].strip()
        return url[:500] if url.startswith(("https://", "http://")) else ""

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website", "").strip())


class ReplyForm(forms.Form):
    message = forms.CharField(
        label=_("Your reply"),
        max_length=MAX_MESSAGE,
        error_messages={"required": _("Please write your reply.")},
    )
    attachments = MultipleFileField(label=_("Attachments"), required=False)

    def clean_message(self) -> str:
        text = self.cleaned_data["message"].replace("\r\n", "\n").strip()
        if not text:
            raise forms.ValidationError(_("Please write your reply."), code="required")
        return text


class LinkRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("Your e-mail address"),
        max_length=254,
        error_messages={
            "invalid": _("Enter an e-mail address like name@example.com."),
            "required": _("Enter the e-mail address you wrote to us from."),
        },
    )
    shop = forms.ChoiceField(label=_("Shop"))

    def __init__(self, *args: Any, shops: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shop_field = self.fields["shop"]
        assert isinstance(shop_field, forms.ChoiceField)
        shop_field.choices = shops
