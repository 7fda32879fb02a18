"""A headless Chromium driven over the DevTools protocol, with the standard library only.

Chromium's --remote-debugging-pipe speaks the protocol over two inherited file
descriptors (it reads commands on fd 3 and writes replies and events on fd 4, each
message a JSON text ending in a NUL byte), so no websocket client is needed. The tests
use it to load a page, measure the rendered layout (Runtime.evaluate runs in the page
from outside it: the report itself has no scripts), list every network request, and
take screenshots at a given width.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Chromium:
    def __init__(self, timeout=60):
        exe = chromium_path()
        if not exe:
            raise RuntimeError("chromium is not installed (scripts/install-deps.sh installs Debian's chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="sluice-chromium-")
        r3, w3 = os.pipe()  # Chromium reads commands from fd 3
        r4, w4 = os.pipe()  # and writes to fd 4

        def child_fds():
            os.dup2(r3, 3)
            os.dup2(w4, 4)

        args = [exe, "--headless", "--remote-debugging-pipe", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
                f"--user-data-dir={self.profile}", "about:blank"]
        if os.geteuid() == 0:
            args.insert(2, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=child_fds, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(r3)
        os.close(w4)
        self.wf = os.fdopen(w3, "wb", buffering=0)
        self.rf = os.fdopen(r4, "rb", buffering=0)
        self.buf = b""
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = self.rf.read(1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method, session=False, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        self.wf.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            d = self._read_message(deadline)
            if d.get("id") == self.next_id:
                if "error" in d:
                    raise RuntimeError(f"{method}: {d['error']}")
                return d.get("result", {})
            if "method" in d:
                self.events.append(d)

    def wait_event(self, method):
        deadline = time.monotonic() + self.timeout
        for i, e in enumerate(self.events):
            if e["method"] == method:
                return self.events.pop(i)
        while True:
            d = self._read_message(deadline)
            if d.get("method") == method:
                return d
            if "method" in d:
                self.events.append(d)

    def open(self, url, width, height=900):
        """Loads url in a viewport `width` CSS pixels wide (device scale 1)."""
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        self.wait_event("Page.loadEventFired")

    def eval(self, expression):
        r = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluating {expression[:80]!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def requests(self):
        """URLs of every request the page made since it was opened."""
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path):
        """The whole page (beyond the viewport) as a PNG."""
        size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        r = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True,
                      clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return size

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self.wf, self.rf):
            try:
                f.close()
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)
