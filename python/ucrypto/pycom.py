"""A drop-in for Pycom's ``crypto`` module, run on a ucrypto device.

``python -m ucrypto.pycom script.py [args]`` runs a Pycom script with ``import crypto`` bound to
this module.

``import ucrypto.pycom as crypto`` runs Pycom scripts unchanged: ``getrandbits``, ``AES`` and
``generate_rsa_signature`` behave as on a Pycom board, but the work is done by the device and
checked on the host. The device is the one ``use_port`` names, else ``UCRYPTO_PORT`` (``sim`` is
the virtual device), else the one attached board; it is opened on first use and kept open.

Deliberate differences from Pycom (docs/python.md lists them with reasons):

- ``generate_rsa_signature`` signs every byte of the message (Pycom's stops at the first NUL
  byte), takes ``bytes`` as well as ``str``, and any RSA private key the CLI reads (PKCS#8 or
  PKCS#1, PEM or DER), not only PKCS#8. ``pers`` is accepted and ignored: RS256 (PKCS#1 v1.5)
  is deterministic and uses no random numbers.
- ``AES`` in CBC or CFB without ``IV`` raises ``ValueError`` (Pycom silently uses a zero IV).
- Errors of the device or the line raise ``ucrypto.UcryptoError`` subclasses; argument errors
  raise Pycom's ``ValueError``/``TypeError`` with Pycom's messages.
"""
import threading
from typing import Optional, Union

from ._native import Device, UsageError

__all__ = ["AES", "generate_rsa_signature", "getrandbits", "use_port", "device"]

_lock = threading.Lock()
_device: Optional[Device] = None
_port: Optional[str] = None

Buffer = Union[bytes, bytearray, memoryview]


def use_port(port: Optional[str]) -> None:
    """Chooses the device for this module: ``"sim"``, a serial port's path, or ``None`` for
    ``UCRYPTO_PORT`` / auto-detection. Closes the device in use, if any; the next call opens
    the new one."""
    global _device, _port
    with _lock:
        if _device is not None:
            _device.close()
        _device, _port = None, port


def device() -> Device:
    """The device this module uses, opened on first use."""
    global _device
    with _lock:
        if _device is None or _device.closed:
            _device = Device(_port)
        return _device


def getrandbits(bits: int) -> bytes:
    """``bits`` random bits from the device's TRNG, rounded up to a multiple of 32
    (``getrandbits(0) == b''``)."""
    bits = int(bits)
    if bits < 0:
        raise ValueError("negative bit count")
    if bits == 0:
        return b""
    return device().rand(bits)


def generate_rsa_signature(
    message: Union[str, Buffer], private_key: Union[str, Buffer], *, pers: str = "esp32-tls"
) -> bytes:
    """The RS256 signature (PKCS#1 v1.5 over SHA-256) of ``message`` with ``private_key`` (the
    key's text, not its path), made on the device and checked with the public key."""
    del pers  # RS256 is deterministic: no random numbers to personalise.
    if isinstance(message, str):
        message = message.encode()
    if not isinstance(private_key, str):
        private_key = bytes(private_key)
    try:
        return device().sign(bytes(message), private_key)
    except UsageError as e:
        # Pycom raises ValueError for a key it cannot parse.
        raise ValueError(str(e)) from e


class AES:
    """Pycom's ``crypto.AES(key, mode, IV, *, counter, segment_size)``: ``encrypt`` and
    ``decrypt`` continue one chain across calls (CFB and CTR mid-block too), as Pycom's object
    does, encrypting and decrypting alike."""

    MODE_ECB = 1
    MODE_CBC = 2
    MODE_CFB = 3
    MODE_CTR = 6
    SEGMENT_8 = 8
    SEGMENT_128 = 128

    def __init__(
        self,
        key: Buffer,
        mode: int = MODE_ECB,
        IV: Optional[Buffer] = None,  # noqa: N803 (Pycom's name)
        counter: Optional[Buffer] = None,
        segment_size: int = 0,
    ) -> None:
        key = bytes(key)
        if len(key) not in (16, 24, 32):
            raise ValueError("AES key must be either 16, 24, or 32 bytes long")
        if mode not in (AES.MODE_ECB, AES.MODE_CBC, AES.MODE_CFB, AES.MODE_CTR):
            raise ValueError("Unknown cipher feedback mode %d" % mode)
        iv = None
        # Pycom ignores IV in ECB and CTR.
        if mode in (AES.MODE_CBC, AES.MODE_CFB):
            if IV is None:
                raise ValueError("IV must be 16 bytes long (CBC and CFB need one)")
            iv = bytes(IV)
            if len(iv) != 16:
                raise ValueError("IV must be 16 bytes long")
        if mode == AES.MODE_CTR:
            if counter is None:
                raise TypeError("object with buffer protocol required")
            iv = bytes(counter)
            if len(iv) != 16:
                raise ValueError("Initial counter value must be 16 bytes long")
        elif counter is not None:
            raise ValueError("'counter' parameter only useful with CTR mode")
        # 0 (and Pycom's -1) mean the default: 8-bit segments.
        segment = AES.SEGMENT_8 if segment_size in (0, -1, None) else segment_size
        if mode == AES.MODE_CFB and segment not in (AES.SEGMENT_8, AES.SEGMENT_128):
            raise ValueError("segment_size must be 8 or 128")
        self._key = key
        self._mode = {
            AES.MODE_ECB: "ecb",
            AES.MODE_CBC: "cbc",
            AES.MODE_CFB: "cfb8" if segment == AES.SEGMENT_8 else "cfb128",
            AES.MODE_CTR: "ctr",
        }[mode]
        self._iv = iv
        # The chain's state, enough to continue it in the other direction: the IV followed by
        # every ciphertext byte so far (the last 32 kept), the plaintext likewise, the count.
        self._ciphertext = iv or b""
        self._plaintext = b""
        self._done = 0
        self._session = None
        self._decrypting = False
        self._lock = threading.Lock()

    def encrypt(self, plaintext: Buffer) -> bytes:
        """Encrypts, continuing the chain."""
        return self._crypt(bytes(plaintext), decrypt=False)

    def decrypt(self, ciphertext: Buffer) -> bytes:
        """Decrypts, continuing the chain."""
        return self._crypt(bytes(ciphertext), decrypt=True)

    def _crypt(self, data: bytes, decrypt: bool) -> bytes:
        if self._mode in ("ecb", "cbc") and len(data) % 16:
            raise ValueError("Input strings must be a multiple of 16 in length")
        with self._lock:
            # CTR is the same operation both ways: one device session serves both.
            decrypt = decrypt and self._mode != "ctr"
            if self._session is None or self._decrypting != decrypt:
                self._open(decrypt)
            # Whole blocks in ECB and CBC (checked above), every byte in CFB and CTR: the
            # output is as long as the input.
            out = self._session.update(data)
            self._record(plain=out if decrypt else data, cipher=data if decrypt else out)
            return out

    def _record(self, plain: bytes, cipher: bytes) -> None:
        self._ciphertext = (self._ciphertext + cipher)[-32:]
        self._plaintext = (self._plaintext + plain)[-32:]
        self._done += len(plain)

    def _open(self, decrypt: bool) -> None:
        """A device session in `decrypt`'s direction where the chain stands."""
        if self._session is not None:
            self._session.close()
            self._session = None
        mode, into = self._mode, self._done % 16 if self._mode == "cfb128" else 0
        if mode == "ecb":
            iv = None
        elif mode == "ctr":
            iv = None  # opened once, at the start (CTR never changes direction)
        else:
            # CBC and CFB continue from the last ciphertext; CFB128 mid-block from the last
            # whole block's, then the current block's bytes are run through again.
            end = len(self._ciphertext) - into
            iv = self._ciphertext[end - 16 : end]
        dev = device()
        if mode == "ctr":
            self._session = dev.aes("ctr", self._key, counter=self._iv)
        else:
            self._session = dev.aes(mode, self._key, iv, decrypt=decrypt)
        self._decrypting = decrypt
        if into:
            replay = (self._ciphertext if decrypt else self._plaintext)[-into:]
            self._session.update(replay)

    def __del__(self) -> None:
        session = getattr(self, "_session", None)
        if session is not None:
            session.close()


def _run_script(argv) -> None:
    """`python -m ucrypto.pycom script.py [args]`: the script's `import crypto` gets this module."""
    import importlib
    import runpy
    import sys

    if not argv:
        sys.exit("usage: python -m ucrypto.pycom SCRIPT.py [ARGS...]")
    # Under -m this file runs as __main__: bind the imported module, whose state the script shares.
    sys.modules["crypto"] = importlib.import_module("ucrypto.pycom")
    sys.argv = list(argv)
    runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    import sys as _sys

    _run_script(_sys.argv[1:])
