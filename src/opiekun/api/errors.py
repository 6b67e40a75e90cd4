"""How the API answers errors: one JSON shape, `{"detail": message, "field": name|null, "code": code}`.

Services raise the kernel's errors (ValidationFailed, NotFound, RateLimited…); the handlers here turn
them into 422/404/429… so no bad input ever surfaces as a 500.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from opiekun.core.errors import NotFound, PermissionDenied, RateLimited, ValidationFailed


class Conflict(Exception):
    """The object exists already (an address another contact owns, a replayed external id): 409 + id."""

    def __init__(self, message: str, *, existing_id: int | None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.existing_id = existing_id
        self.field = field


def _body(detail: str, *, field: str | None = None, code: str = "invalid", **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "field": field, "code": code, **extra}


# Sources ninja puts first in an error location, and the view parameter names it nests models under
# (integrators never see those names, so they are dropped from what we answer).
_SOURCES = ("body", "query", "path", "form", "file", "header", "cookie")
_PARAMS = ("payload", "params", "form", "files")


def _public_loc(loc: Any) -> list[int | str]:
    parts: list[int | str] = [p if isinstance(p, int) else str(p) for p in (loc or ())]
    if len(parts) > 2 and parts[0] in _SOURCES and parts[1] in _PARAMS:
        del parts[1]
    return parts


def _validation_error(request: HttpRequest, exc: NinjaValidationError, api: NinjaAPI) -> HttpResponse:
    errors = [
        {"loc": _public_loc(e.get("loc")), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors
    ]
    first = errors[0] if errors else {"loc": [], "msg": _("Invalid request.")}
    loc = list(first["loc"])
    field = ".".join(str(p) for p in (loc[1:] if loc and loc[0] in _SOURCES else loc)) or None
    detail = f"{field}: {first['msg']}" if field else str(first["msg"])
    return api.create_response(request, _body(detail, field=field, errors=errors), status=422)


def install(api: NinjaAPI) -> None:
    """Register the handlers on `api` (called once from root.py)."""

    @api.exception_handler(ValidationFailed)
    def validation_failed(request: HttpRequest, exc: ValidationFailed) -> HttpResponse:
        return api.create_response(request, _body(exc.message, field=exc.field, code=exc.code), status=422)

    @api.exception_handler(NotFound)
    def not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
        return api.create_response(request, _body(_("Not found."), code="not_found"), status=404)

    @api.exception_handler(Http404)
    def http_404(request: HttpRequest, exc: Http404) -> HttpResponse:
        return api.create_response(request, _body(_("Not found."), code="not_found"), status=404)

    @api.exception_handler(PermissionDenied)
    def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return api.create_response(request, _body(exc.message, code="forbidden"), status=403)

    @api.exception_handler(RateLimited)
    def rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
        response = api.create_response(
            request, _body(_("Too many requests, please try again later."), code="rate_limited"), status=429
        )
        response["Retry-After"] = str(exc.retry_after)
        return response

    @api.exception_handler(Conflict)
    def conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
        return api.create_response(
            request, _body(exc.message, field=exc.field, code="conflict", id=exc.existing_id), status=409
        )

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = api.create_response(
            request,
            _body(_("Authentication required: send an API token or sign in."), code="unauthenticated"),
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="opiekun"'
        return response

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        codes = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        return api.create_response(
            request, _body(str(exc), code=codes.get(exc.status_code, "error")), status=exc.status_code
        )

    @api.exception_handler(NinjaValidationError)
    def invalid_request(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        return _validation_error(request, exc, api)
