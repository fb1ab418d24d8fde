"""The native messaging loop: read frames, dispatch, answer; one card worker.

Threads: the main thread reads stdin; `status`, `watch`, `unwatch` and `cancel` are answered
at once; `list-certificates` and `authenticate` go, in order, to one card worker so that
they never interleave on the card (§3); a PC/SC watcher sends events after `watch`.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start

from host import logs
from host.config import ConfigError, Settings
from host.errors import CpsError
from host.framing import FrameTooLarge, FrameWriter, read_frame
from host.handlers import Handlers
from host.protocol import Request, error_response, event, parse_request, response

if TYPE_CHECKING:
    from typing import Any, BinaryIO

CARD_COMMANDS = ("list-certificates", "authenticate")
WATCH_FIRST_LOOK = 1.0  # seconds `watch` waits at most for the watcher's first look at PC/SC
EOF_GRACE = 0.8  # seconds a card call already under way may take to end after EOF (§2: exit < 1 s)


class Service:
    def __init__(self, settings: Settings, card_factory, writer: FrameWriter,
                 config_error: ConfigError | None = None):
        self.handlers = Handlers(settings, card_factory, config_error)
        self.writer = writer
        self.jobs: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self.cancels: dict[str, threading.Event] = {}
        self.started: set[str] = set()  # card jobs the worker has taken, under cancels_lock
        self.cancels_lock = threading.Lock()
        self.pending = 0  # card jobs queued or running, under cancels_lock
        self.idle = threading.Event()  # set when pending is 0
        self.idle.set()
        self.watcher = None
        self.worker = threading.Thread(target=self._work, name="card-worker", daemon=True)
        self.worker.start()

    # -- dispatch ------------------------------------------------------------------------------

    def handle(self, req: Request) -> None:
        if req.command in CARD_COMMANDS:
            with self.cancels_lock:
                self.cancels[req.id] = threading.Event()
                self.pending += 1
                self.idle.clear()
            self.jobs.put(req)
            return
        self._answer(req, self._run_now)

    def _run_now(self, req: Request) -> dict[str, Any]:
        from host.arguments import parse

        args = parse(req.command, req.arguments)
        if req.command == "status":
            return self.handlers.status()
        if req.command == "watch":
            self._start_watch()
            return {}
        if req.command == "unwatch":
            self._stop_watch()
            return {}
        if req.command == "cancel":
            rid = args["requestId"]
            with self.cancels_lock:
                flag = self.cancels.get(rid)
                queued = flag is not None and not flag.is_set() and rid not in self.started
                if flag is not None:
                    flag.set()
            if queued:
                # Still behind another card command (which may wait up to 120 s): its one
                # answer now; the worker, finding it cancelled, will not answer it again.
                send(self.writer, rid, error_response(rid, CpsError("ERR_CPS_CANCELLED")))
            return {}
        raise CpsError("ERR_CPS_INVALID_REQUEST", {"field": "command"})

    def _answer(self, req: Request, run) -> None:
        try:
            message = response(req.id, run(req))
        except CpsError as err:
            message = error_response(req.id, err)
        except Exception as exc:  # a bug in a command: it costs that request, not the host
            logs.get("service").exception("internal error in %s", req.command)
            message = error_response(req.id, CpsError(
                "ERR_CPS_INTERNAL", {"exception": exc.__class__.__name__}))
        send(self.writer, req.id, message)

    # -- the card worker -----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            req = self.jobs.get()
            if req is None:
                return
            with self.cancels_lock:
                flag = self.cancels.get(req.id)
                answered = flag is not None and flag.is_set()  # cancelled while queued
                self.started.add(req.id)
            try:
                if not answered:
                    self._answer(req, self._run_card)
            finally:
                req.arguments = {}  # a request cancelled while queued still held its PIN
                with self.cancels_lock:
                    self.cancels.pop(req.id, None)
                    self.started.discard(req.id)
                    self.pending -= 1
                    if self.pending == 0:
                        self.idle.set()

    def _run_card(self, req: Request) -> dict[str, Any]:
        from host.arguments import parse

        with self.cancels_lock:
            cancelled = self.cancels.get(req.id) or threading.Event()
        args = parse(req.command, req.arguments)
        if req.command == "list-certificates":
            return self.handlers.list_certificates(args["waitForCardMs"], cancelled, args["origin"])
        pin = args.pop("pin")
        req.arguments = {}  # the PIN is kept nowhere after this request
        return self.handlers.authenticate(args["challengeNonce"], args["origin"],
                                          args["certificateId"], pin)

    # -- watch ---------------------------------------------------------------------------------

    def _start_watch(self) -> None:
        from host.pcsc import Watcher

        if self.watcher is not None and self.watcher.is_alive():
            return
        self.watcher = Watcher(self._send_event)
        self.watcher.start()
        # Answer once the watcher has looked: a change after the answer is then an event.
        self.watcher.ready.wait(WATCH_FIRST_LOOK)

    def _send_event(self, name: str, data: dict[str, Any]) -> None:
        self.writer.write(event(name, data))
        logs.flush()

    def _stop_watch(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    # -- end -----------------------------------------------------------------------------------

    def finish(self) -> None:
        """EOF (§2: writing nothing more): no frame is written any more, no event sent, and
        no card command queued is started: the browser that asked is gone, and a login it
        left behind would still spend a try of the code porteur. A card call already under
        way is asked to stop (a wait for a card ends) and given the grace to end, so that
        the middleware closes its session before the process exits."""
        self.writer.close()
        self._stop_watch()
        with self.cancels_lock:
            for flag in self.cancels.values():
                flag.set()  # the worker skips a queued one; a running wait ends
        self.idle.wait(EOF_GRACE)


def serve(stdin: BinaryIO, frames_out: BinaryIO, settings: Settings, card_factory,
          config_error: ConfigError | None = None) -> int:
    """Serve until EOF (returns 0) or an oversized frame (returns 1)."""
    writer = FrameWriter(frames_out)
    service = Service(settings, card_factory, writer, config_error)
    while True:
        try:
            body = read_frame(stdin)
        except FrameTooLarge as exc:
            logs.get("service").error("%s; closing", exc)
            writer.write(error_response(None, CpsError("ERR_CPS_MESSAGE_TOO_LARGE",
                                                       {"maxBytes": 65536})))
            writer.close()
            return 1
        if body is None:
            service.finish()
            return 0
        try:
            req = parse_request(body)
        except CpsError as err:
            rid = err.details.get("requestId")
            send(writer, rid, error_response(rid, err))
            continue
        finally:
            del body  # the frame may hold a PIN: keep it no longer than its parsing
        service.handle(req)


def send(writer: FrameWriter, rid: str | None, message: dict[str, Any]) -> None:
    """Write a request's one answer; if no frame can carry it (a bug: a value UTF-8 cannot
    encode, or over the browser's size limit), its answer is ERR_CPS_INTERNAL instead.
    The log lines the request made are written after its answer, off the person's wait."""
    try:
        writer.write(message)
    except ValueError as exc:  # UnicodeEncodeError included
        logs.get("service").error("answer to %s not sendable: %s", rid, exc.__class__.__name__)
        writer.write(error_response(rid, CpsError("ERR_CPS_INTERNAL",
                                                  {"exception": exc.__class__.__name__})))
    logs.flush()


def exit_now(status: int) -> None:
    """Leave at once: a card call blocked in the middleware (a PIN pad waiting) must not
    keep the process past the 1 s the browser is promised."""
    logs.close()
    sys.stderr.flush()
    os._exit(status)
