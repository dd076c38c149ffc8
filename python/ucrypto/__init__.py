"""ucrypto: the hardware crypto of an ESP32 (or the virtual device) from Python.

``Device`` keeps one connection open across calls; every result is verified on the host before
it is returned (random bits health-tested, AES recomputed, signatures checked with the public
key, digests recomputed). ``ucrypto.pycom`` is a drop-in for Pycom's ``crypto`` module, and
``ucrypto.hashlib`` gives ``hashlib``-style objects that hash on the device.
"""
from ._native import (
    AesSession,
    Device,
    DeviceError,
    Hash,
    TransportError,
    UcryptoError,
    Unsupported,
    UsageError,
    VerificationError,
    encrypt,
    verify,
)

__all__ = [
    "AesSession",
    "Device",
    "DeviceError",
    "Hash",
    "TransportError",
    "UcryptoError",
    "Unsupported",
    "UsageError",
    "VerificationError",
    "encrypt",
    "verify",
]
