"""The envelope of §3: requests in, responses and events out.

The envelope is checked by hand (it is tiny) so that `status` answers without loading
pydantic; each command's arguments are validated by host/arguments.py (held to the
schema of host/schema.py by the tests) when the command runs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start

from host.errors import CpsError, echoable, is_unicode_text
from host.json_codec import DuplicateKey, loads, loads_unique

if TYPE_CHECKING:
    from typing import Any

COMMANDS = ("status", "list-certificates", "authenticate", "watch", "unwatch", "cancel")
_ENVELOPE_KEYS = {"id", "command", "arguments"}


class Request:
    __slots__ = ("id", "command", "arguments")  # a plain class: dataclasses costs ~6 ms to import

    def __init__(self, id: str, command: str, arguments: dict[str, Any] | None = None):
        self.id = id
        self.command = command
        self.arguments = arguments if arguments is not None else {}

    def __repr__(self) -> str:  # never the arguments: they may hold a PIN
        return f"Request(id={self.id!r}, command={self.command!r})"


def parse_request(body: bytes) -> Request:
    """A Request, or CpsError(ERR_CPS_INVALID_REQUEST) with `details.requestId` set when the
    id could be read (so that the error can still be matched to the request)."""
    duplicate = None
    try:
        text = body.decode("utf-8")
        try:
            obj = loads_unique(text)
        except DuplicateKey as exc:
            # Refused (which one would count?), but answered under its id when that is not
            # the key given twice: read again, only for the id.
            duplicate, obj = exc.key, loads(text)
    except UnicodeDecodeError:
        raise CpsError("ERR_CPS_INVALID_REQUEST", {"reason": "not UTF-8"}) from None
    except ValueError:
        raise CpsError("ERR_CPS_INVALID_REQUEST", {"reason": "not JSON"}) from None
    if not isinstance(obj, dict):
        raise CpsError("ERR_CPS_INVALID_REQUEST", {"reason": "not a JSON object"})
    rid = obj.get("id")
    valid_id = (isinstance(rid, str) and 1 <= len(rid) <= 64 and is_unicode_text(rid)
                and duplicate != "id")

    def bad(reason: str, **extra: Any) -> CpsError:
        details = {"reason": reason, **extra}
        if valid_id:
            details["requestId"] = rid
        return CpsError("ERR_CPS_INVALID_REQUEST", details)

    if duplicate is not None:
        raise bad("a key given twice", field=echoable(duplicate))
    if not valid_id:
        raise bad("id must be a string of 1 to 64 characters", field="id")  # echoed: UTF-8 only
    unknown = sorted(echoable(k) for k in obj if k not in _ENVELOPE_KEYS)
    if unknown:
        raise bad("unknown keys", fields=unknown)
    command = obj.get("command")
    if command not in COMMANDS:
        raise bad("unknown command", field="command")
    arguments = obj.get("arguments", {})
    if not isinstance(arguments, dict):
        raise bad("arguments must be an object", field="arguments")
    return Request(rid, command, arguments)


def response(rid: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"id": rid, "result": result}


def error_response(rid: str | None, err: CpsError) -> dict[str, Any]:
    details = dict(err.details)
    details.pop("requestId", None)
    shown = CpsError(err.code, details) if details != err.details else err
    return {"id": rid, "error": shown.to_error()}


def event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"event": name, "data": data}
