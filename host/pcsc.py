"""Readers and cards through PC/SC (pyscard's `scard` layer).

Only the thin `scard` functions are used: they report readers, card presence and ATR
without connecting to the card (so we never disturb a middleware session) and import in
a few milliseconds, which keeps `status` fast.
"""

from __future__ import annotations

import threading
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start

from host.atr import card_type
from host.errors import CpsError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_PNP = "\\\\?PnP?\\Notification"


class ReaderState:
    __slots__ = ("name", "card_present", "atr")

    def __init__(self, name: str, card_present: bool, atr: bytes | None):
        self.name, self.card_present, self.atr = name, card_present, atr

    @property
    def card_type(self) -> str | None:
        return card_type(self.atr) if self.card_present and self.atr else None

    def card_data(self) -> dict[str, Any]:
        """The `data` of every event (§4): which reader, which card (null: none in it)."""
        atr = self.atr.hex().upper() if self.card_present and self.atr else None
        return {"reader": self.name, "atr": atr, "cardType": self.card_type}

    def to_status(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "cardPresent": self.card_present}
        if self.card_present and self.atr:
            d["atr"] = self.atr.hex().upper()
            d["cardType"] = card_type(self.atr)
        return d


class Pcsc:
    """One PC/SC context per instance; safe to use from one thread at a time (the watcher
    and the card worker each have their own)."""

    def __init__(self) -> None:
        from host.lazy_imports import pyscard_scard

        self.scard = pyscard_scard()
        self.ctx: int | None = None

    def _context(self) -> int:
        s = self.scard
        if self.ctx is None:
            hr, ctx = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
            if hr != s.SCARD_S_SUCCESS:
                raise CpsError("ERR_CPS_PCSC_UNAVAILABLE", {"pcsc": s.SCardGetErrorMessage(hr)})
            self.ctx = ctx
        return self.ctx

    def _list_readers(self, ctx: int) -> tuple[int, list[str]]:
        """SCardListReaders. pyscard cannot decode a reader name that is not UTF-8 (a driver
        may name its reader in Latin-1) and fails with SystemError: then PC/SC is of no use
        to us, which the callers already handle; the card's PKCS#11 module still works."""
        try:
            return self.scard.SCardListReaders(ctx, [])
        except (SystemError, UnicodeDecodeError):
            raise CpsError("ERR_CPS_PCSC_UNAVAILABLE",
                           {"pcsc": "a reader's name is not UTF-8"}) from None

    def _reset(self) -> None:
        if self.ctx is not None:
            try:
                self.scard.SCardReleaseContext(self.ctx)
            except Exception:
                pass
        self.ctx = None

    def readers(self) -> list[ReaderState]:
        s = self.scard
        for attempt in (0, 1):
            ctx = self._context()
            hr, names = self._list_readers(ctx)
            if hr == s.SCARD_E_NO_READERS_AVAILABLE:
                return []
            if hr in (s.SCARD_E_NO_SERVICE, s.SCARD_E_SERVICE_STOPPED, s.SCARD_E_INVALID_HANDLE) \
                    and attempt == 0:
                self._reset()  # pcscd restarted since: one new context, then give up
                continue
            if hr != s.SCARD_S_SUCCESS:
                raise CpsError("ERR_CPS_PCSC_UNAVAILABLE", {"pcsc": s.SCardGetErrorMessage(hr)})
            if not names:
                return []
            hr, states = s.SCardGetStatusChange(ctx, 0, [(n, s.SCARD_STATE_UNAWARE) for n in names])
            if hr != s.SCARD_S_SUCCESS:
                if attempt == 0:
                    continue  # a reader vanished between the two calls
                raise CpsError("ERR_CPS_PCSC_UNAVAILABLE", {"pcsc": s.SCardGetErrorMessage(hr)})
            return [ReaderState(name, bool(state & s.SCARD_STATE_PRESENT)
                                and not state & s.SCARD_STATE_MUTE,
                                bytes(atr) if atr else None) for name, state, atr in states]
        raise CpsError("ERR_CPS_PCSC_UNAVAILABLE")

    def wait_change(self, timeout_ms: int) -> None:
        """Block until a reader or card changes, or timeout_ms passes (or cancel())."""
        s = self.scard
        ctx = self._context()
        hr, names = self._list_readers(ctx)
        names = list(names) if hr == s.SCARD_S_SUCCESS and names else []
        hr, current = s.SCardGetStatusChange(ctx, 0, [(n, s.SCARD_STATE_UNAWARE)
                                                        for n in [*names, _PNP]])
        if hr != s.SCARD_S_SUCCESS:
            return
        watch = [(name, state & ~s.SCARD_STATE_CHANGED) for name, state, _ in current]
        s.SCardGetStatusChange(ctx, timeout_ms, watch)

    def cancel(self) -> None:
        if self.ctx is not None:
            self.scard.SCardCancel(self.ctx)

    def close(self) -> None:
        self._reset()


def status() -> dict[str, Any]:
    """The `pcsc` part of the status result; never raises."""
    try:
        pcsc = Pcsc()
        try:
            readers = pcsc.readers()
        finally:
            pcsc.close()
    except CpsError as err:
        return {"available": False, "readers": [], "error": err.code}
    except ImportError:
        return {"available": False, "readers": [], "error": "ERR_CPS_PCSC_UNAVAILABLE"}
    return {"available": True, "readers": [r.to_status() for r in readers]}


class Watcher(threading.Thread):
    """Sends reader-added/-removed and card-inserted/-removed events until stopped."""

    def __init__(self, emit: Callable[[str, dict[str, Any]], None], poll_ms: int = 500):
        super().__init__(name="pcsc-watch", daemon=True)
        self.emit = emit
        self.poll_ms = poll_ms
        self._stop_event = threading.Event()
        self._pcsc: Pcsc | None = None
        self.ready = threading.Event()  # set once the first look is taken: changes after it are events

    def stop(self) -> None:
        self._stop_event.set()
        if self._pcsc is not None:
            try:
                self._pcsc.cancel()
            except Exception:
                pass

    def _snapshot(self) -> dict[str, ReaderState]:
        assert self._pcsc is not None
        try:
            return {r.name: r for r in self._pcsc.readers()}
        except CpsError:
            self._pcsc.close()
            return {}

    def run(self) -> None:
        try:
            self._pcsc = Pcsc()
        except ImportError:
            self.ready.set()
            return
        before = self._snapshot()
        self.ready.set()
        while not self._stop_event.is_set():
            try:
                self._pcsc.wait_change(self.poll_ms)
            except CpsError:
                self._stop_event.wait(self.poll_ms / 1000)
            if self._stop_event.is_set():
                break
            after = self._snapshot()
            for name in before.keys() - after.keys():
                if before[name].card_present:
                    self.emit("card-removed", before[name].card_data())
                self.emit("reader-removed", {"reader": name, "atr": None, "cardType": None})
            for name, state in after.items():
                old = before.get(name)
                if old is None:
                    self.emit("reader-added", state.card_data())
                if state.card_present and (old is None or not old.card_present or old.atr != state.atr):
                    if old is not None and old.card_present:
                        self.emit("card-removed", old.card_data())  # swapped between two looks
                    self.emit("card-inserted", state.card_data())
                elif not state.card_present and old is not None and old.card_present:
                    self.emit("card-removed", old.card_data())
            before = after
        self._pcsc.close()
