"""The view the mobile app POSTs its push token to: the project's own authentication, CSRF as any POST."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.translation import gettext as _

from .._errors import ValidationError
from ._devices import deactivate_tokens, register_device
from ._settings import push_settings

__all__ = ["register", "unregister"]


def _token(request: HttpRequest) -> tuple[str | None, HttpResponse | None]:
    """The token a POST carries (a form field or a JSON body's ``token``), or the answer to give."""
    if request.method != "POST":
        return None, HttpResponseNotAllowed(["POST"])
    if not request.user.is_authenticated:
        return None, JsonResponse({"error": _("Sign in to register a device.")}, status=401)
    token: Any
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return None, JsonResponse({"error": _("The body is not JSON.")}, status=400)
        token = body.get("token") if isinstance(body, dict) else None
    else:
        token = request.POST.get("token")
    if not isinstance(token, str) or not token:
        return None, JsonResponse({"error": _("The field 'token' is required."), "field": "token"}, status=400)
    return token, None


def register(request: HttpRequest) -> HttpResponse:
    """POST ``token`` (form or JSON): the signed-in user's device, registered or seen again (201 / 200)."""
    token, problem = _token(request)
    if problem is not None:
        return problem
    assert token is not None
    try:
        device = register_device(request.user, token)
    except ValidationError as exc:
        return JsonResponse({"error": exc.reason, "field": "token"}, status=400)
    created = device.registered_at == device.last_seen_at
    return JsonResponse({"token": device.token, "active": device.active}, status=201 if created else 200)


def unregister(request: HttpRequest) -> HttpResponse:
    """POST ``token``: the signed-in user's device with that token gets no more notifications (sign-out)."""
    token, problem = _token(request)
    if problem is not None:
        return problem
    assert token is not None
    from .models import PushDevice

    db = push_settings().database
    mine = PushDevice.objects.using(db).filter(user=request.user, token=token).values_list("token", flat=True)
    deactivated = deactivate_tokens(list(mine), "unregistered")
    return JsonResponse({"token": token, "deactivated": bool(deactivated)})
