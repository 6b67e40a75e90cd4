"""Desk forms: sign-in, list filters, and the small forms behind each conversation action."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from opiekun.conversations.models import ChannelKind, Priority, Status
from opiekun.conversations.selectors import SORTS, VIEWS, Filters


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Login"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


SORT_CHOICES = [
    ("recent", _("Latest activity")),
    ("oldest", _("Oldest activity")),
    ("sla", _("SLA due first")),
    ("priority", _("Priority")),
    ("number", _("Newest case")),
]
assert {k for k, _label in SORT_CHOICES} == set(SORTS)


class FiltersForm(forms.Form):
    """The inbox query string; anything invalid is simply ignored (a list always shows)."""

    view = forms.ChoiceField(choices=[(v, v) for v in VIEWS], required=False)
    team = forms.IntegerField(required=False, min_value=1)
    q = forms.CharField(required=False, max_length=200)
    status = forms.ChoiceField(choices=[("", ""), *Status.choices], required=False)
    priority = forms.TypedChoiceField(
        choices=[("", "")] + [(str(v), label) for v, label in Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    channel = forms.ChoiceField(choices=[("", ""), *ChannelKind.choices], required=False)
    tag = forms.CharField(required=False, max_length=50)
    assignee = forms.IntegerField(required=False, min_value=1)
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)
    limit = forms.IntegerField(required=False, min_value=10, max_value=500)

    KEYS = ("view", "team", "q", "status", "priority", "channel", "tag", "assignee", "sort", "limit")

    @classmethod
    def parse(cls, data: object) -> FiltersForm:
        form = cls(data)  # type: ignore[arg-type]
        form.is_valid()
        return form

    def value(self, key: str) -> object:
        data = getattr(self, "cleaned_data", {})
        return data.get(key) if key not in self.errors else None

    def filters(self, *, team_ok: bool = True) -> Filters:
        team = self.value("team") if team_ok else None
        return Filters(
            view=str(self.value("view") or "mine"),
            team_id=team,  # type: ignore[arg-type]
            status=str(self.value("status") or ""),
            priority=self.value("priority"),  # type: ignore[arg-type]
            channel=str(self.value("channel") or ""),
            tag=str(self.value("tag") or "").strip(),
            assignee_id=self.value("assignee"),  # type: ignore[arg-type]
            q=str(self.value("q") or "").strip(),
            sort=str(self.value("sort") or "recent"),
        )

    def page_size(self) -> int:
        return int(self.value("limit") or 50)  # type: ignore[call-overload]

    def query(self, **override: object) -> dict[str, str]:
        """The valid, non-empty parameters (for links that keep the current filters)."""
        params = {k: self.value(k) for k in self.KEYS}
        params.update(override)
        return {k: str(v) for k, v in params.items() if v not in (None, "")}


class ComposeForm(forms.Form):
    MODES = [("reply", _("Reply")), ("note", _("Internal note")), ("log", _("Log a contact"))]
    mode = forms.ChoiceField(choices=MODES, required=False)
    text = forms.CharField(
        required=False, max_length=100_000, strip=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    status_after = forms.ChoiceField(
        required=False,
        choices=[
            (Status.PENDING_CUSTOMER, _("and wait on the customer")),
            (Status.OPEN, _("and keep open")),
            (Status.RESOLVED, _("and resolve")),
        ],
    )
    # The macro picked in the composer: its tags (and a status beyond the three above) apply on send.
    macro = forms.IntegerField(required=False, min_value=1)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices)


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(choices=[(str(v), label) for v, label in Priority.choices], coerce=int)


class AssignForm(forms.Form):
    # "me", "none", "agent:<id>", "team:<id>"
    to = forms.RegexField(regex=r"^(me|none|agent:\d{1,12}|team:\d{1,12})$", max_length=20)


class TagsForm(forms.Form):
    add = forms.CharField(required=False, max_length=300)
    remove = forms.CharField(required=False, max_length=50)


class OrderForm(forms.Form):
    order_ref = forms.CharField(required=False, max_length=64)


class MergeForm(forms.Form):
    number = forms.RegexField(regex=r"^\s*#?\d{1,15}\s*$", label=_("Conversation number"))


class LogContactForm(forms.Form):
    note_kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            ("call", pgettext_lazy("logged contact", "Phone call")),
            ("letter", pgettext_lazy("logged contact", "Letter")),
            ("fax", pgettext_lazy("logged contact", "Fax")),
            ("visit", pgettext_lazy("logged contact", "In-person visit")),
            ("other", pgettext_lazy("logged contact", "Other contact")),
        ],
    )
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[("in", _("From the customer (incoming)")), ("out", _("We contacted them (outgoing)"))],
    )
    text = forms.CharField(
        label=_("What was said"), max_length=100_000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class CaretakerForm(forms.Form):
    caretaker = forms.IntegerField(required=False, min_value=1)
    backup = forms.IntegerField(required=False, min_value=1)


class ContactMergeForm(forms.Form):
    other = forms.CharField(label=_("Contact id, e-mail or phone"), max_length=320)
