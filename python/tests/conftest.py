"""Fixtures: a virtual device in this process (`sim`) or behind `ucrypto sim` on a pty, RSA keys
from Python's `cryptography`, and the `ucrypto` binary the CLI comparisons run."""
import os
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

try:
    # CFB and CFB8 moved here in cryptography 43 (and leave `modes` in 49).
    from cryptography.hazmat.decrepit.ciphers import modes as _decrepit
except ImportError:  # pragma: no cover (older cryptography)
    _decrepit = None
from cryptography.hazmat.primitives.ciphers import modes as _modes


class modes:  # noqa: N801 (stands in for the module)
    """cryptography's AES modes, CFB and CFB8 from wherever this version keeps them."""

    ECB, CBC, CTR = _modes.ECB, _modes.CBC, _modes.CTR
    CFB = (_decrepit or _modes).CFB
    CFB8 = (_decrepit or _modes).CFB8


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def ucrypto_bin() -> str:
    """The CLI: $UCRYPTO_BIN (set by .ci/python.sh), else the workspace's debug build."""
    path = os.environ.get("UCRYPTO_BIN") or os.path.join(ROOT, "target", "debug", "ucrypto")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no ucrypto binary at {path}: run `cargo build -p ucrypto` (or .ci/python.sh)")
    return path


@pytest.fixture(scope="session")
def pty_port():
    """`ucrypto sim` serving a virtual device on a pseudo-terminal; yields its path."""
    proc = subprocess.Popen(
        [ucrypto_bin(), "sim"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/"), f"ucrypto sim printed {path!r}"
        yield path
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["sim", "pty"])
def port(request):
    """Each test that takes `port` runs in-process and over a pty."""
    if request.param == "sim":
        return "sim"
    return request.getfixturevalue("pty_port")


def _pem(key, fmt) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, fmt, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="session")
def rsa_key():
    """A 2048-bit key: (cryptography's key, its PKCS#8 PEM text)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, _pem(key, serialization.PrivateFormat.PKCS8)


@pytest.fixture(scope="session")
def rsa_key_pkcs1(rsa_key):
    return _pem(rsa_key[0], serialization.PrivateFormat.TraditionalOpenSSL)


@pytest.fixture
def openssl():
    path = shutil.which("openssl")
    if path is None:
        pytest.fail("openssl is needed by the tests (README: programs the tests run)")
    return path
