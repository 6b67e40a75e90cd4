"""`POST /hooks/<token>/`: verify, store once, answer — the platform's only contact with us.

Kept on the WSGI fast path: no session, no template, one remembered endpoint lookup, one (shared)
commit. 404 for an unknown or inactive token, the source's status (401 signature, 400 shape) with a
reason for a refused request, 413 over MAX_BODY, 503 when storing failed (the platform retries).
POST only, unless the source names other `methods` (GET: the query string is the body).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from opiekun.core import clock

from . import intake, selectors
from .models import Endpoint
from .registry import Incoming, Rejected, sources

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
REJECTION_NOTE_EVERY = 10.0  # seconds: how often a refused request is noted on its endpoint
_noted: dict[int, float] = {}


@csrf_exempt
def receive(request: HttpRequest, token: str) -> HttpResponse:
    target = selectors.target_for_token(token)
    if target is None or target.source not in sources:
        return JsonResponse({"error": "unknown endpoint"}, status=404)
    source = sources.get(target.source)
    methods = tuple(getattr(source, "methods", ("POST",)))
    if request.method not in methods:
        return JsonResponse({"error": f"{' or '.join(methods)} only"}, status=405)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return JsonResponse({"error": f"body over {MAX_BODY} bytes"}, status=413)
    form: dict[str, list[str]] = {}
    if request.method == "GET":
        # A provider calling with GET (SMSAPI's delivery reports, Zadarma's address check) sends its data
        # in the query string: it is stored as the body, so processing reads both ways alike.
        body = request.META.get("QUERY_STRING", "").encode("latin-1", "replace")[: MAX_BODY + 1]
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    else:
        body = request.body
        if request.content_type == "application/x-www-form-urlencoded":
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    if len(body) > MAX_BODY:
        return JsonResponse({"error": f"body over {MAX_BODY} bytes"}, status=413)
    incoming = Incoming(
        url=request.build_absolute_uri(),
        method=request.method or "POST",
        headers=request.headers,
        body=body,
        form=form,
        secret=target.secret,
    )
    try:
        accepted = source.verify(incoming)
    except Rejected as refusal:
        _note_rejection(target.endpoint_id, refusal)
        return JsonResponse({"error": refusal.reason}, status=refusal.status)
    if accepted.store:
        headers = {name: request.headers[name] for name in accepted.keep_headers if name in request.headers}
        arrival = intake.group.store(
            intake.Arrival(target.endpoint_id, accepted.key[:200], accepted.topic[:100], body, headers)
        )
        if arrival.error is not None:
            log.error("webhook for endpoint %s not stored: %r", target.endpoint_id, arrival.error)
            return JsonResponse({"error": "not stored, retry later"}, status=503)
        duplicate = arrival.duplicate
    else:
        duplicate = False
    if accepted.answer:
        return HttpResponse(accepted.answer, content_type=accepted.content_type)
    return JsonResponse({"ok": True, "duplicate": duplicate})


def _note_rejection(endpoint_id: int, refusal: Rejected) -> None:
    log.warning("webhook refused for endpoint %s: %s %s", endpoint_id, refusal.status, refusal.reason)
    now = time.monotonic()
    if now - _noted.get(endpoint_id, -REJECTION_NOTE_EVERY) < REJECTION_NOTE_EVERY:
        return
    _noted[endpoint_id] = now
    Endpoint.objects.filter(pk=endpoint_id).update(
        last_rejected_at=clock.now(), last_rejection=f"{refusal.status} {refusal.reason}"[:300]
    )
