"""Real browsers with the CPS Bridge extension and the real host, for the browser tests, the
demo and the benchmark.

    ext = build_dev_extension(tmp)                       # dist-like dev build, per family
    host = NativeHost(tmp / "host", env)                 # wrapper + manifests, env for the host
    with ChromiumBrowser(tmp / "chromium", ext["chromium"], host) as b:
        tab = b.open(site.url)                           # a Tab: click, fill, text, wait…
        dialog = b.wait_dialog()                         # the trusted dialog (extension window)
    with FirefoxBrowser(tmp / "firefox", ext["firefox"], host) as b: ...

Chromium is driven by Playwright (the system /usr/bin/chromium, never a downloaded one);
Firefox ESR by raw WebDriver BiDi over a websocket (no geckodriver on this machine).
Both give the same small `Tab` interface so that one scenario runs in either.

The host: a wrapper executable (`#!/bin/sh`, `exec .venv/bin/python -m host "$@"`), registered
by a manifest rendered with `host.manifests.render()`; it inherits the browser's environment.
For tests that need another card set-up without another browser, the wrapper also sources
`<host dir>/override.env` when that file exists, and writes its pid to `<host dir>/pids/` so
that a test can stop the running host (the extension then reconnects).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOST_NAME = "fr.viatrajectoire.cpsbridge"
CHROMIUM = "/usr/bin/chromium"
FIREFOX = "/usr/bin/firefox-esr"
FIREFOX_UUID = "6c9d3f1e-5b7a-4c2e-9f0a-3e8d1b2c4a5f"  # fixed moz-extension:// host for tests
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                 "--ignore-certificate-errors", "--no-default-browser-check"]
# Variables a host started by the browser needs (PROTOCOL §8 and the test bed).
HOST_VARIABLES = ("SOFTHSM2_CONF", "CPSBRIDGE_PKCS11_MODULE", "PCSCLITE_CSOCK_NAME",
                  "CPSBRIDGE_ALLOWED_ORIGINS", "OPENSC_CONF", "CPSBRIDGE_SYSTEM_CONFIG",
                  "CPSBRIDGE_LOG_LEVEL", "XDG_CONFIG_HOME", "XDG_STATE_HOME")


class BrowserMissing(RuntimeError):
    pass


def require(path: str, package: str) -> None:
    if not Path(path).exists():
        raise BrowserMissing(f"{path} is missing (Debian package {package}; ./run setup installs it)")


def build_dev_extension(out: Path) -> dict[str, Path]:
    """`python build.py extension --dev --out OUT`: the unpacked development builds."""
    r = subprocess.run([sys.executable, str(REPO / "build.py"), "extension", "--dev", "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"build.py extension --dev failed:\n{r.stderr}")
    return {"chromium": out / "chromium", "firefox": out / "firefox"}


class NativeHost:
    """The host as a browser starts it: a wrapper and its manifests."""

    def __init__(self, directory: Path, env: dict[str, str]):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "pids").mkdir(exist_ok=True)
        self.env = dict(env)
        self.wrapper = self.dir / "cpsbridge-host"
        self.override = self.dir / "override.env"
        self.wrapper.write_text(
            "#!/bin/sh\n"
            "# CPS Bridge host from the source tree, for tests (written by tests/testbed/browser.py)\n"
            f"echo $$ > {shlex.quote(str(self.dir / 'pids'))}/$$\n"
            f"[ -f {shlex.quote(str(self.override))} ] && . {shlex.quote(str(self.override))}\n"
            f"cd {shlex.quote(str(REPO))} && exec .venv/bin/python -m host \"$@\"\n")
        self.wrapper.chmod(0o755)

    def manifest(self, family: str) -> dict:
        from host.manifests import render

        return render(family, str(self.wrapper))

    def set_override(self, variables: dict[str, str] | None) -> None:
        """Environment the next host started gets on top of the browser's (None: none)."""
        if variables is None:
            self.override.unlink(missing_ok=True)
            return
        self.override.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in variables.items()))

    def running(self) -> list[int]:
        alive = []
        for f in (self.dir / "pids").iterdir():
            pid = int(f.name)
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                f.unlink(missing_ok=True)
                continue
            if b"host" in cmd:
                alive.append(pid)
            else:
                f.unlink(missing_ok=True)
        return alive

    def stop_running(self, timeout: float = 10) -> int:
        """Ends the hosts this wrapper started (by pid); the extension sees the port close.
        A page that still listens may make the extension start a new host at once: that one
        is ended too (waiting for it to end by itself took the whole timeout, and left it
        running into the next test)."""
        ended: set[int] = set()
        deadline = time.monotonic() + timeout
        while (pids := self.running()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                    ended.add(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        return len(ended)

    def browser_env(self, home: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CPSBRIDGE_")}
        env.update({k: v for k, v in self.env.items() if k in HOST_VARIABLES or k.startswith("CPSBRIDGE_")})
        env["HOME"] = str(home)
        home.mkdir(parents=True, exist_ok=True)
        return env


# -- one tab, whatever the browser -------------------------------------------------------------

class Tab:
    """What a scenario does in a page: the same for Chromium and Firefox."""

    def click(self, selector: str) -> None: ...
    def fill(self, selector: str, value: str) -> None: ...
    def text(self, selector: str) -> str: ...
    def count(self, selector: str) -> int: ...
    def evaluate(self, expression: str, await_promise: bool = True): ...
    def url(self) -> str: ...
    def goto(self, url: str) -> None: ...
    def back(self) -> None: ...  # history back; returns once the browser has started it
    def screenshot(self, path: Path) -> Path: ...
    def closed(self) -> bool: ...
    def close(self) -> None: ...

    def click_closing(self, selector: str) -> None:
        """Click a control that closes this window (the dialog's « Annuler », « Fermer »).
        The window may vanish before the browser has acknowledged the click: that is the
        expected outcome, so an error is accepted only if the window is then gone."""
        try:
            self.click(selector)
        except Exception as exc:
            try:
                self.wait(self.closed, f"the window to close after the click on {selector} "
                                       f"failed ({exc.__class__.__name__})", timeout=10)
            except TimeoutError as still_open:
                raise still_open from exc  # the click's own error is the one to read

    def wait(self, predicate, what: str, timeout: float = 30.0, interval: float = 0.05):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = predicate()
                if last:
                    return last
            except Exception as exc:  # the page may be navigating
                last = exc
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {what} (last: {last!r}); "
                                   f"url {self.safe_url()}")
            self._sleep(interval)

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def safe_url(self) -> str:
        try:
            return self.url()
        except Exception:
            return "?"

    def wait_for(self, selector: str, timeout: float = 30.0) -> None:
        self.wait(lambda: self.count(selector) > 0, f"{selector}", timeout)

    def wait_text(self, selector: str, fragment: str, timeout: float = 30.0) -> str:
        return self.wait(lambda: (t := self.text(selector)) and fragment in t and t,
                         f"{fragment!r} in {selector}", timeout)

    def wait_url(self, fragment: str, timeout: float = 30.0) -> str:
        return self.wait(lambda: fragment in self.url() and self.url(), f"url with {fragment!r}",
                         timeout)


class PlaywrightTab(Tab):
    def __init__(self, page):
        self.page = page

    def _sleep(self, seconds):
        # Playwright's sync API takes in events (navigation, new url) only inside its calls.
        if not self.page.is_closed():
            self.page.wait_for_timeout(seconds * 1000)
        else:
            time.sleep(seconds)

    def click(self, selector):
        self.page.click(selector)

    def fill(self, selector, value):
        self.page.fill(selector, value)

    def type(self, selector, value):
        self.page.locator(selector).press_sequentially(value)

    def text(self, selector):
        loc = self.page.locator(selector)
        return loc.first.inner_text() if loc.count() else ""

    def count(self, selector):
        return self.page.locator(selector).count()

    def evaluate(self, expression, await_promise=True):
        return self.page.evaluate(expression)

    def url(self):
        return self.page.url

    def goto(self, url):
        self.page.goto(url)

    def back(self):
        # A page shown again from the back/forward cache fires no load event: commit only.
        self.page.go_back(wait_until="commit")

    def screenshot(self, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
        return Path(path)

    def closed(self) -> bool:
        return self.page.is_closed()

    def close(self):
        if not self.page.is_closed():
            self.page.close()


# -- Chromium --------------------------------------------------------------------------------

# One Playwright driver for all the Chromium browsers open at a time in this process: its
# sync API runs an event loop in the calling thread, and a second driver started while the
# first runs fails ("Sync API inside the asyncio loop"), e.g. a test that launches a browser
# of its own beside the module's.
_DRIVER: dict = {"playwright": None, "users": 0}


def _playwright():
    if _DRIVER["playwright"] is None:
        from playwright.sync_api import sync_playwright

        _DRIVER["playwright"] = sync_playwright().start()
    _DRIVER["users"] += 1
    return _DRIVER["playwright"]


def _release_playwright() -> None:
    _DRIVER["users"] -= 1
    if _DRIVER["users"] == 0:
        _DRIVER["playwright"].stop()
        _DRIVER["playwright"] = None


class ChromiumBrowser:
    """Headless Chromium (Playwright, persistent profile) with the unpacked extension.
    `host=None` or `register_host=False`: no host manifest (the host is not installed).
    Playwright starts Chromium with --disable-back-forward-cache; `bfcache=True` leaves the
    back/forward cache on, as a user's Chrome has it."""

    family = "chromium"

    def __init__(self, workdir: Path, extension: Path, host: NativeHost | None,
                 headless: bool = True, register_host: bool = True,
                 extra_args: list[str] | None = None, bfcache: bool = False):
        require(CHROMIUM, "chromium")
        self.workdir = Path(workdir)
        self.profile = self.workdir / "profile"
        self.extension = Path(extension)
        self.host = host
        self.headless = headless
        self.register_host = register_host
        self.extra_args = extra_args or []
        self.bfcache = bfcache
        self._pw = None
        self.context = None

    @property
    def manifest_path(self) -> Path:
        return self.profile / "NativeMessagingHosts" / f"{HOST_NAME}.json"

    def install_host(self) -> None:
        self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        self.manifest_path.write_text(json.dumps(self.host.manifest("chromium"), indent=2))

    def uninstall_host(self) -> None:
        self.manifest_path.unlink(missing_ok=True)

    def start(self) -> "ChromiumBrowser":
        self.profile.mkdir(parents=True, exist_ok=True)
        if self.host is not None and self.register_host:
            self.install_host()
        env = (self.host.browser_env(self.workdir / "home") if self.host
               else {**os.environ, "HOME": str(self.workdir / "home")})
        env.update({"LANG": "fr_FR.UTF-8", "LANGUAGE": "fr"})
        args = [*CHROMIUM_ARGS, "--lang=fr-FR", f"--disable-extensions-except={self.extension}",
                f"--load-extension={self.extension}", *self.extra_args]
        if self.headless:
            args.insert(0, "--headless=new")
        self._pw = _playwright()
        try:
            self.context = self._pw.chromium.launch_persistent_context(
                str(self.profile), executable_path=CHROMIUM, headless=self.headless, args=args,
                env=env, ignore_https_errors=True, viewport={"width": 1100, "height": 800},
                locale="fr-FR",
                ignore_default_args=["--disable-back-forward-cache"] if self.bfcache else None)
        except Exception:
            self._pw = None
            _release_playwright()
            raise
        return self

    @property
    def extension_base(self) -> str:
        from host.manifests import extension_ids

        return f"chrome-extension://{extension_ids()['chromium']}/"

    def service_worker(self, timeout: float = 15):
        workers = [w for w in self.context.service_workers if "chrome-extension://" in w.url]
        if workers:
            return workers[0]
        return self.context.wait_for_event("serviceworker", timeout=timeout * 1000)

    def extension_id(self) -> str:
        return self.service_worker().url.split("/")[2]

    def background_state(self) -> dict:
        return self.service_worker().evaluate("globalThis.cpsbridgeState()")

    def open(self, url: str) -> PlaywrightTab:
        page = self.context.new_page()
        page.goto(url)
        return PlaywrightTab(page)

    def dialogs(self) -> list:
        return [p for p in self.context.pages if "/dialog/dialog.html" in p.url and not p.is_closed()]

    def _pump(self, ms: int = 30) -> None:
        """Lets Playwright take in the browser's events (new windows, closed pages): its sync
        API only does so inside its own calls, never during time.sleep."""
        pages = [p for p in self.context.pages if not p.is_closed()]
        if pages:
            pages[0].wait_for_timeout(ms)
        else:
            time.sleep(ms / 1000)

    def wait_dialog(self, timeout: float = 30) -> PlaywrightTab:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.dialogs()
            if found:
                page = found[-1]
                page.wait_for_load_state("domcontentloaded")
                return PlaywrightTab(page)
            self._pump()
        raise TimeoutError(f"no CPS Bridge dialog window within {timeout} s "
                           f"(pages: {[p.url for p in self.context.pages]})")

    def wait_no_dialog(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while self.dialogs():
            if time.monotonic() > deadline:
                raise TimeoutError("the dialog window stayed open")
            self._pump()

    def stop(self) -> None:
        try:
            if self.context is not None:
                self.context.close()
        finally:
            self.context = None
            if self._pw is not None:
                self._pw = None
                _release_playwright()

    def __enter__(self) -> "ChromiumBrowser":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- Firefox: raw WebDriver BiDi ----------------------------------------------------------------

class BiDiError(RuntimeError):
    pass


class BiDi:
    """A WebDriver BiDi session over one websocket, with a reader thread."""

    def __init__(self, url: str):
        import contextlib

        from websockets.sync.client import connect

        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(url, max_size=64 * 1024 * 1024, open_timeout=20))
        self.ids = itertools.count(1)
        self.waiting: dict[int, dict] = {}
        self.cond = threading.Condition()
        self.events: list[dict] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            while True:
                msg = json.loads(self.ws.recv())
                with self.cond:
                    if "id" in msg and msg.get("type") in ("success", "error"):
                        self.waiting[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self.cond.notify_all()
        except Exception:
            with self.cond:
                self.cond.notify_all()

    def send(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        mid = next(self.ids)
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        with self.cond:
            while mid not in self.waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"BiDi {method}: no answer in {timeout} s")
                self.cond.wait(left)
            msg = self.waiting.pop(mid)
        if msg["type"] == "error":
            raise BiDiError(f"{method}: {msg.get('error')}: {msg.get('message')}")
        return msg["result"]

    def close(self) -> None:
        try:
            self._stack.close()
        except Exception:
            pass


def _remote_value(v):
    """A BiDi RemoteValue as a Python value (enough for JSON-like results)."""
    t = v.get("type")
    if t in ("string", "number", "boolean"):
        return v.get("value")
    if t in ("null", "undefined"):
        return None
    if t == "array":
        return [_remote_value(x) for x in v.get("value", [])]
    if t == "object":
        return {k if isinstance(k, str) else _remote_value(k): _remote_value(x)
                for k, x in v.get("value", [])}
    return v.get("value", f"<{t}>")


class BiDiTab(Tab):
    def __init__(self, browser: "FirefoxBrowser", context: str):
        self.browser = browser
        self.bidi = browser.bidi
        self.context = context

    def evaluate(self, expression, await_promise=True):
        r = self.bidi.send("script.evaluate", {
            "expression": expression, "target": {"context": self.context},
            "awaitPromise": await_promise, "resultOwnership": "none",
            "serializationOptions": {"maxObjectDepth": 10}})
        if r.get("type") == "exception":
            raise BiDiError(r["exceptionDetails"].get("text", "exception"))
        return _remote_value(r["result"])

    def _call(self, body: str, *args):
        js = json.dumps(list(args))
        return self.evaluate(f"(() => {{ const args = {js}; {body} }})()")

    def click(self, selector):
        self.wait_for(selector)
        self._call("const e = document.querySelector(args[0]); e.scrollIntoView(); e.focus(); "
                   "e.click(); return true;", selector)

    def fill(self, selector, value):
        self.wait_for(selector)
        self._call("const e = document.querySelector(args[0]); e.focus(); e.value = args[1]; "
                   "e.dispatchEvent(new Event('input', {bubbles: true})); "
                   "e.dispatchEvent(new Event('change', {bubbles: true})); return true;",
                   selector, value)

    def type(self, selector, value):
        """Real key presses (input.performActions) into the focused field."""
        self.wait_for(selector)
        self._call("document.querySelector(args[0]).focus(); return true;", selector)
        actions = []
        for ch in value:
            actions += [{"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch}]
        self.bidi.send("input.performActions", {"context": self.context, "actions": [
            {"type": "key", "id": "keyboard", "actions": actions}]})

    def text(self, selector):
        return self._call("const e = document.querySelector(args[0]); "
                          "return e ? e.innerText : '';", selector) or ""

    def count(self, selector):
        return self._call("return document.querySelectorAll(args[0]).length;", selector)

    def url(self):
        for c in self.browser.tree():
            if c["context"] == self.context:
                return c["url"]
        raise BiDiError("context closed")

    def closed(self) -> bool:
        return all(c["context"] != self.context for c in self.browser.tree())

    def goto(self, url):
        self.bidi.send("browsingContext.navigate", {"context": self.context, "url": url,
                                                    "wait": "complete"})

    def back(self):
        self.bidi.send("browsingContext.traverseHistory", {"context": self.context, "delta": -1})

    def screenshot(self, path):
        r = self.bidi.send("browsingContext.captureScreenshot", {"context": self.context})
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(r["data"]))
        return Path(path)

    def close(self):
        try:
            self.bidi.send("browsingContext.close", {"context": self.context})
        except BiDiError:
            pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FirefoxBrowser:
    """Firefox ESR, headless, with the extension installed as a temporary add-on over BiDi,
    and the host manifest in $HOME/.mozilla/native-messaging-hosts/ (HOME: a test folder)."""

    family = "firefox"

    def __init__(self, workdir: Path, extension: Path, host: NativeHost | None,
                 headless: bool = True, register_host: bool = True,
                 prefs: dict[str, object] | None = None):
        require(FIREFOX, "firefox-esr")
        self.workdir = Path(workdir)
        self.profile = self.workdir / "profile"
        self.home = self.workdir / "home"
        self.extension = Path(extension)
        self.host = host
        self.headless = headless
        self.register_host = register_host
        self.prefs = prefs or {}
        self.proc: subprocess.Popen | None = None
        self.bidi: BiDi | None = None
        self.base = f"moz-extension://{FIREFOX_UUID}/"

    @property
    def manifest_path(self) -> Path:
        return self.home / ".mozilla" / "native-messaging-hosts" / f"{HOST_NAME}.json"

    @property
    def extension_base(self) -> str:
        return self.base

    def install_host(self) -> None:
        self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        self.manifest_path.write_text(json.dumps(self.host.manifest("firefox"), indent=2))

    def uninstall_host(self) -> None:
        self.manifest_path.unlink(missing_ok=True)

    def _user_js(self) -> str:
        from host.manifests import extension_ids

        prefs = {
            "extensions.webextensions.uuids": json.dumps({extension_ids()["firefox"]: FIREFOX_UUID}),
            "browser.shell.checkDefaultBrowser": False,
            "browser.startup.homepage_override.mstone": "ignore",
            "datareporting.policy.dataSubmissionEnabled": False,
            "toolkit.telemetry.reportingpolicy.firstRun": False,
            "app.update.disabledForTesting": True,
            "browser.aboutwelcome.enabled": False,
            "extensions.autoDisableScopes": 0,
            "extensions.enabledScopes": 5,
            "intl.accept_languages": "fr-FR, fr",
            "intl.locale.requested": "fr-FR",
            "network.captive-portal-service.enabled": False,
            "browser.safebrowsing.malware.enabled": False,
            "browser.safebrowsing.phishing.enabled": False,
            "extensions.getAddons.cache.enabled": False,
            "services.settings.server": "http://127.0.0.1:9/",
            "network.connectivity-service.enabled": False,
            "browser.newtabpage.enabled": False,
            "extensions.webextensions.restrictedDomains": "",
            **self.prefs,
        }
        return "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())

    def start(self) -> "FirefoxBrowser":
        self.profile.mkdir(parents=True, exist_ok=True)
        (self.profile / "user.js").write_text(self._user_js())
        if self.host is not None and self.register_host:
            self.install_host()
        env = (self.host.browser_env(self.home) if self.host
               else {**os.environ, "HOME": str(self.home)})
        env["MOZ_CRASHREPORTER_DISABLE"] = "1"
        port = _free_port()
        args = [FIREFOX, "--no-remote", "--profile", str(self.profile),
                "--remote-debugging-port", str(port), "--remote-allow-system-access"]
        if self.headless:
            args.insert(1, "--headless")
        self.log = open(self.workdir / "firefox.log", "wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Firefox exited: {(self.workdir / 'firefox.log').read_text()[-2000:]}")
            try:
                self.bidi = BiDi(f"ws://127.0.0.1:{port}/session")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.bidi.send("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}})
        self.bidi.send("webExtension.install", {"extensionData": {"type": "path",
                                                                  "path": str(self.extension)}})
        return self

    def tree(self) -> list[dict]:
        return self.bidi.send("browsingContext.getTree", {"maxDepth": 0})["contexts"]

    def open(self, url: str) -> BiDiTab:
        ctx = self.bidi.send("browsingContext.create", {"type": "tab"})["context"]
        tab = BiDiTab(self, ctx)
        tab.goto(url)
        return tab

    def dialogs(self) -> list[str]:
        return [c["context"] for c in self.tree() if c["url"].startswith(self.base + "dialog/")]

    def wait_dialog(self, timeout: float = 30) -> BiDiTab:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.dialogs()
            if found:
                tab = BiDiTab(self, found[-1])
                tab.wait(lambda: tab.evaluate("document.readyState") == "complete", "dialog load")
                return tab
            time.sleep(0.05)
        raise TimeoutError(f"no CPS Bridge dialog window within {timeout} s "
                           f"({[c['url'] for c in self.tree()]})")

    def wait_no_dialog(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while self.dialogs():
            if time.monotonic() > deadline:
                raise TimeoutError("the dialog window stayed open")
            time.sleep(0.05)

    def background_state(self) -> dict | None:
        return None  # the background page is not a BiDi context in Firefox

    def stop(self) -> None:
        if self.bidi is not None:
            try:
                self.bidi.send("session.end", {}, timeout=5)
            except Exception:
                pass
            self.bidi.close()
            self.bidi = None
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> "FirefoxBrowser":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def launch(family: str, workdir: Path, extension: Path, host: NativeHost | None, **kw):
    cls = {"chromium": ChromiumBrowser, "firefox": FirefoxBrowser}[family]
    return cls(workdir, extension, host, **kw).start()


def clean(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# -- steps of the site's flows, shared by the tests, the demo and the benchmark ----------------

TILE = "#tuile-cps"
TILE_STATUS = "[data-cpsbridge-status]"
TILE_ALERT = "[data-cpsbridge-tile] [role='alert']"
DIALOG_PIN = 'input[name="pin"]'
DIALOG_SUBMIT = 'button[type="submit"]'
DIALOG_CANCEL = 'button[name="cancel"]'
DIALOG_ALERT = '[role="alert"]'


def type_pin(dialog: Tab, pin: str) -> None:
    """Types the code porteur in the trusted dialog and confirms it."""
    dialog.wait_for(DIALOG_PIN)
    dialog.type(DIALOG_PIN, pin)
    dialog.click_closing(DIALOG_SUBMIT)  # a right code porteur closes the dialog


CREATION_BUTTON = "[data-testid='creation-liberal']"


def liberal_creation(tab: Tab, email: str, password: str) -> None:
    """Manual II.1 steps 4-5, from the page every unlinked card reaches (I.3.ii): its second
    choice « Créer mon compte de l'espace médecin libéral », the account form, then the
    conditions of use."""
    tab.wait_url("/connexion/carte-cps/association")
    tab.wait_for(CREATION_BUTTON)
    tab.click(CREATION_BUTTON)
    tab.wait_url("/liberal/creation")
    tab.wait_for("#email")
    tab.fill("#email", email)
    tab.fill("#mot_de_passe", password)
    tab.fill("#confirmation", password)
    tab.click("form button[type='submit']")
    try:
        tab.wait_url("/liberal/cgu")
    except TimeoutError as exc:
        raise AssertionError(f"account form refused: {tab.text('[data-refus]')!r}") from exc
    tab.wait_for("input[name='accepte']")
    tab.click("input[name='accepte']")
    tab.click("form button[type='submit']")
    tab.wait_url("/espace")
