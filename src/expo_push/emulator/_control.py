"""The emulator's control routes under ``/--/emulator/``, and the guard that keeps other web pages out of them.

Routes (JSON): ``GET stats``, ``GET inbox/{token}``, the inbox's (``GET feed``, ``GET events``
(server-sent events), ``GET|DELETE notifications/{seq}``, ``PUT notifications/{seq}/tags``,
``POST clear``, ``GET traffic``,
``GET requests/{n}``: see ``_inbox``), ``GET|POST|DELETE faults``, ``POST release``, ``POST script``,
``POST project``, ``POST register``, ``GET|POST config``, ``POST advance``, ``POST reset``.

The guard refuses (403) any control request a browser makes on behalf of another site
(``Sec-Fetch-Site`` other than ``same-origin``/``none``, or an ``Origin`` that is not the
emulator's own): a web page open in the developer's browser cannot add faults or read the inbox.
On loopback it also refuses a ``Host`` that is not a loopback name (DNS rebinding). When a
control token is set (for emulators reachable beyond loopback), every control request must
carry it: ``X-Emulator-Token: <token>``, ``Authorization: Bearer <token>`` or ``?token=<token>``.
"""

from __future__ import annotations

import hmac
import ipaddress
import urllib.parse
from typing import TYPE_CHECKING, Any

from ._asgi import Reply, Request, error_reply, json_reply, method_not_allowed, not_found
from ._faults import Fault
from ._service import decode_json, request_error, validation_error

if TYPE_CHECKING:
    from ._app import EmulatorApp

__all__ = ["CONTROL_PREFIX", "ControlRoutes", "Guard", "is_loopback"]

CONTROL_PREFIX = "/--/emulator"

_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) names this machine only."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_host(value: str, scheme: str) -> tuple[str, int | None]:
    parsed = urllib.parse.urlsplit(f"{scheme}://{value}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    return (parsed.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


class Guard:
    """Decides whether a control request may be served."""

    def __init__(self, token: str | None, loopback: bool) -> None:
        self._token = token or None
        self._loopback = loopback

    @property
    def token_required(self) -> bool:
        """Whether control requests must carry the control token."""
        return self._token is not None

    def refusal(self, request: Request) -> Reply | None:
        """The answer refusing ``request`` (403, or 401 without the control token), or ``None`` to serve it."""
        scheme = str(request.scope.get("scheme", "http"))
        host = request.header("host") or ""
        site = request.header("sec-fetch-site")
        if site is not None and site.lower() not in ("same-origin", "none"):
            return _forbidden(f"cross-site requests ({site}) may not control the emulator")
        origin = request.header("origin")
        if origin is not None:
            parsed = urllib.parse.urlsplit(origin)
            if origin == "null" or not parsed.hostname:
                return _forbidden("requests from opaque origins may not control the emulator")
            if _split_host(parsed.netloc, parsed.scheme or scheme) != _split_host(host, scheme):
                return _forbidden(f"requests from {origin} may not control the emulator")
        if self._loopback and host and not is_loopback(_split_host(host, scheme)[0]):
            return _forbidden("the emulator listens on loopback: use localhost or 127.0.0.1 in its URL")
        if self._token is not None and not self._carries_token(request):
            error = request_error(
                401,
                "UNAUTHORIZED",
                "this emulator's control routes need its control token: "
                "send 'X-Emulator-Token: <token>' (or ?token=<token> in the URL)",
            )
            return error_reply(error)
        return None

    def _carries_token(self, request: Request) -> bool:
        assert self._token is not None
        expected = self._token.encode()
        candidates = [request.header("x-emulator-token")]
        scheme, _, credentials = (request.header("authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            candidates.append(credentials.strip())
        candidates.extend(urllib.parse.parse_qs(request.query).get("token", []))
        found = False
        for given in candidates:
            if given is not None:
                found |= hmac.compare_digest(given.encode(), expected)
        return found


def _forbidden(message: str) -> Reply:
    return error_reply(request_error(403, "FORBIDDEN", message))


class _ControlError(Exception):
    pass


def _tokens_of(body: Any) -> list[str]:
    if not isinstance(body, dict):
        raise _ControlError("the body must be a JSON object")
    tokens = body.get("tokens", [body["token"]] if "token" in body else None)
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
        raise _ControlError('"token" (a string) or "tokens" (a list of strings) is required')
    return tokens


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _ControlError(f'"{name}" must be a string or null')
    return value


_CONFIG_FIELDS = ("default_project", "history", "latency", "max_body_bytes", "rate_limit", "receipt_delay",
                  "receipt_retention", "registered_only")  # fmt: skip


class ControlRoutes:
    """The control routes of one emulator app."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        self._routes = {
            ("GET", "stats"): self._stats,
            ("GET", "faults"): self._faults_list,
            ("POST", "faults"): self._faults_add,
            ("DELETE", "faults"): self._faults_clear,
            ("POST", "release"): self._release,
            ("POST", "script"): self._script,
            ("POST", "project"): self._project,
            ("POST", "register"): self._register,
            ("GET", "config"): self._config,
            ("POST", "config"): self._config,
            ("POST", "advance"): self._advance,
            ("POST", "reset"): self._reset,
        }

    async def handle(self, request: Request) -> None:
        """Serve one request whose path is under ``CONTROL_PREFIX``."""
        refusal = self.app.guard.refusal(request)
        if refusal is not None:
            await request.reply(refusal)
            return
        name = request.path[len(CONTROL_PREFIX) + 1 :]
        method = request.method
        inbox = self.app.inbox
        if name.startswith("inbox/") and method == "GET":
            token = name[len("inbox/") :]
            data = [delivery.as_dict() for delivery in self.app.state.inbox(token)]
            await request.reply(json_reply({"data": data}))
            return
        methods = inbox.allowed(name)
        if methods is not None:
            if method not in methods:
                await request.reply(method_not_allowed(method, methods))
                return
            await inbox.control(request, name)
            return
        handler = self._routes.get((method, name))
        if handler is None:
            allowed = tuple(m for m, n in self._routes if n == name)
            reply = method_not_allowed(method, allowed) if allowed else not_found(request.path)
            await request.reply(reply)
            return
        try:
            raw = await request.body(1024 * 1024)
            body = decode_json(raw) if raw.strip() else {}
            reply = handler(body)
        except (ValueError, TypeError, _ControlError) as exc:
            reply = error_reply(validation_error(str(exc)))
        except ConnectionResetError:
            return
        except Exception as exc:  # a body too large, nested too deep...
            reply = error_reply(validation_error(f"the request body cannot be read: {type(exc).__name__}"))
        await request.reply(reply)

    # Each handler takes the decoded body and returns the answer; ValueError/_ControlError become 400.

    def _stats(self, body: Any) -> Reply:
        return json_reply(self.app.state.stats().as_dict())

    def _faults_list(self, body: Any) -> Reply:
        return json_reply({"data": [fault.as_dict() for fault in self.app.faults.pending()]})

    def _faults_add(self, body: Any) -> Reply:
        specs = body if isinstance(body, list) else [body]
        faults = [Fault.from_dict(spec) for spec in specs]
        for fault in faults:
            self.app.faults.add(fault)
        return json_reply({"data": [fault.as_dict() for fault in faults]})

    def _faults_clear(self, body: Any) -> Reply:
        self.app.faults.clear()
        return json_reply({"data": []})

    def _release(self, body: Any) -> Reply:
        return json_reply({"released": self.app.stalls.release(proceed=True)})

    def _script(self, body: Any) -> Reply:
        tokens = _tokens_of(body)
        unknown = set(body) - {"token", "tokens", "ticket_error", "receipt_error", "project", "details", "receipt_lost"}
        if unknown:
            raise _ControlError(f"unknown fields {sorted(unknown)}")
        ticket_error = _optional_str(body, "ticket_error")
        receipt_error = _optional_str(body, "receipt_error")
        project = _optional_str(body, "project")
        details = body.get("details")
        lost = body.get("receipt_lost", False)
        if not isinstance(lost, bool):
            raise _ControlError('"receipt_lost" must be true or false')
        if {"ticket_error", "receipt_error", "details", "receipt_lost"} & set(body) or project is None:
            self.app.state.script_token(tokens, ticket_error, receipt_error, details=details, receipt_lost=lost)
        if project is not None:
            self.app.state.set_project(tokens, project)
        return json_reply({"ok": True})

    def _project(self, body: Any) -> Reply:
        tokens = _tokens_of(body)
        project = _optional_str(body, "project")
        if project is None:
            raise _ControlError('"project" ("@owner/slug") is required')
        self.app.state.set_project(tokens, project)
        return json_reply({"ok": True})

    def _register(self, body: Any) -> Reply:
        tokens = _tokens_of(body)
        registered = body.get("registered", True)
        if not isinstance(registered, bool):
            raise _ControlError('"registered" must be true or false')
        self.app.state.register(tokens, registered)
        return json_reply({"ok": True})

    def _config(self, body: Any) -> Reply:
        if not isinstance(body, dict) or set(body) - set(_CONFIG_FIELDS):
            raise _ControlError(f"the body must be an object with some of {list(_CONFIG_FIELDS)}")
        if body:
            self.app.state.configure(**body)
        settings = self.app.state.settings
        return json_reply({name: getattr(settings, name) for name in _CONFIG_FIELDS})

    def _advance(self, body: Any) -> Reply:
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise _ControlError('"seconds" (a number) is required')
        self.app.state.advance(float(seconds))
        return json_reply({"ok": True})

    def _reset(self, body: Any) -> Reply:
        self.app.reset()
        return json_reply({"ok": True})
