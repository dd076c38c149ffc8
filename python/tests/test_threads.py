"""The GIL is released around every device call: `info()`, `closed` and an AES session's drop
wait for the connection (which another thread's call may hold) without it.

Each test puts a relay written in Python between the device (`ucrypto sim` on a pty) and the
connection: a second pty whose master a Python thread copies to and from the device. A request
the relay holds back is answered only once the relay's thread runs again, and the relay lets
it through only after the main thread has started the operation under test. So the held call
can only succeed if Python threads ran while both calls were inside the extension: with the GIL
held, the held call times out (and the test fails) instead. Ordering, not seconds, decides."""
import os
import select
import subprocess
import sys
import threading
import tty

import pytest

import ucrypto
from conftest import ucrypto_bin

# Generous: with the GIL released every call here returns in milliseconds; with it held, the
# held call fails after this long.
TIMEOUT = 20.0


class Relay(threading.Thread):
    """Copies bytes between a pty of its own (`path`) and the device's; can hold one request
    back until `release` is set."""

    def __init__(self, device_path):
        super().__init__(daemon=True)
        self.master, self._slave = os.openpty()
        self.path = os.ttyname(self._slave)
        self.far = os.open(device_path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.far)
        self.hold = False
        self.request_seen = threading.Event()
        self.release = threading.Event()
        self.stopped = False
        self.log = []

    def run(self):
        while not self.stopped:
            ready, _, _ = select.select([self.master, self.far], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                if fd == self.master:
                    if self.hold:
                        self.hold = False
                        self.log.append("request held")
                        self.request_seen.set()
                        self.release.wait()
                        self.log.append("request forwarded")
                    os.write(self.far, data)
                else:
                    os.write(self.master, data)

    def close(self):
        self.stopped = True
        self.join(timeout=5)
        for fd in (self.master, self._slave, self.far):
            os.close(fd)


@pytest.fixture
def relayed():
    """A device behind a relay: (Device, Relay)."""
    sim = subprocess.Popen(
        [ucrypto_bin(), "sim"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    relay = None
    try:
        path = sim.stdout.readline().strip()
        assert path.startswith("/dev/"), f"ucrypto sim printed {path!r}"
        relay = Relay(path)
        relay.start()
        dev = ucrypto.Device(relay.path, timeout=TIMEOUT, baud=115200)
        yield dev, relay
        dev.close()
    finally:
        if relay is not None:
            relay.release.set()
            relay.close()
        sim.terminate()
        sim.wait(timeout=10)


def _while_a_call_is_held(dev, relay, operation):
    """Thread B's `rand` is held at the relay (holding the connection); the main thread then
    starts `operation`; the relay's thread lets B's request through only once the main thread
    has started it. Returns the log of what happened, in order."""
    results = {}

    def held_call():
        try:
            results["rand"] = dev.rand(64)
        except ucrypto.UcryptoError as e:  # a timeout, when the GIL was held
            results["rand"] = e
        relay.log.append("held call returned")

    relay.hold = True
    worker = threading.Thread(target=held_call)
    worker.start()
    assert relay.request_seen.wait(timeout=TIMEOUT), "the held call never reached the relay"
    relay.log.append("operation started")

    # Released at the operation's first call into C (the extension's method, `getattr`,
    # `list.pop`): from there on the relay's thread can only run if that call lets go of the
    # GIL while it waits for the connection.
    def at_c_call(frame, event, arg):
        if event == "c_call":
            relay.release.set()

    sys.setprofile(at_c_call)
    try:
        operation()
    finally:
        sys.setprofile(None)
    relay.log.append("operation returned")
    worker.join()
    assert isinstance(results["rand"], bytes) and len(results["rand"]) == 8, (
        f"the held call failed: {results['rand']!r} (the GIL was held while waiting)"
    )
    return relay.log


def test_info_waits_for_the_connection_without_the_gil(relayed):
    dev, relay = relayed
    seen = {}
    log = _while_a_call_is_held(dev, relay, lambda: seen.update(info=dev.info()))
    assert seen["info"]["virtual"] is True
    assert log.index("request forwarded") < log.index("operation returned"), log


def test_closed_waits_for_the_connection_without_the_gil(relayed):
    dev, relay = relayed
    seen = {}
    log = _while_a_call_is_held(dev, relay, lambda: seen.update(closed=getattr(dev, "closed")))
    assert seen["closed"] is False
    assert log.index("request forwarded") < log.index("operation returned"), log


def test_a_dropped_aes_session_ends_without_the_gil(relayed):
    dev, relay = relayed
    sessions = [dev.aes("ctr", bytes(16), counter=bytes(16))]
    assert len(sessions[0].update(b"sixteen bytes...")) == 16

    def drop():
        # The last reference: the session's Rust drop runs here and ends it on the device.
        sessions.pop()

    log = _while_a_call_is_held(dev, relay, drop)
    assert log.index("request forwarded") < log.index("operation returned"), log
    # The connection is intact after it.
    assert len(dev.rand(32)) == 4
