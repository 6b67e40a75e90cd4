"""Sign-in (argon2 via Django auth, lockout after repeated failures), sign-out and the UI language."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from .. import lockout
from ..forms import LoginForm
from ..preferences import ui_language_remember
from .guard import agent_of, agent_view, client_ip


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("desk:inbox")


def _lock_message(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return ngettext(
        "Too many failed sign-in attempts. For your security, signing in is blocked for %(n)d minute.",
        "Too many failed sign-in attempts. For your security, signing in is blocked for %(n)d minutes.",
        minutes,
    ) % {"n": minutes}


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    """Show the sign-in form / sign in (reads users; counts failures per username+IP in the cache)."""
    if request.user.is_authenticated and agent_of(request.user) is not None and request.method == "GET":
        return redirect(_safe_next(request))
    form = LoginForm(request.POST or None)
    error = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        username, password = form.cleaned_data["username"].strip(), form.cleaned_data["password"]
        ip = client_ip(request)
        locked = lockout.locked_for(username, ip)
        if locked:
            error, status = _lock_message(locked), 429
        else:
            user = authenticate(request, username=username, password=password)
            if user is None:
                locked = lockout.record_failure(username, ip)
                if locked:
                    error, status = _lock_message(locked), 429
                else:
                    # The same words whether the login exists or not.
                    error, status = _("That login and password do not match. Please try again."), 400
            else:
                lockout.record_success(username, ip)
                login(request, user)
                response = HttpResponseRedirect(_safe_next(request))
                agent = agent_of(user)
                if agent is not None and agent.ui_language in dict(settings.LANGUAGES):
                    response.set_cookie(
                        settings.LANGUAGE_COOKIE_NAME,
                        agent.ui_language,
                        max_age=settings.LANGUAGE_COOKIE_AGE,
                        samesite="Lax",
                        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                    )
                return response
    elif request.method == "POST":
        error, status = _("Enter your login and password."), 400
    return render(
        request,
        "desk/login.html",
        {"form": form, "error": error, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=status,
    )


@require_POST
@csrf_protect
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("desk:login")


@require_POST
@agent_view
def language_view(request: HttpRequest) -> HttpResponse:
    """Switch the UI language (Django's set_language sets the cookie) and remember it on the agent."""
    language = request.POST.get("language", "")
    if language in dict(settings.LANGUAGES):
        ui_language_remember(agent=request.agent, language=language)  # type: ignore[attr-defined]
    return set_language(request)
