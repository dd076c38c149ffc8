"""ucrypto: the hardware crypto of an ESP32 (or the virtual device) from Python.

``Device`` keeps one connection open across calls; every result is verified on the host before
it is returned (random bits health-tested, AES recomputed, signatures checked with the public
key). ``ucrypto.pycom`` is a drop-in for Pycom's ``crypto`` module.
"""
from ._native import (
    AesSession,
    Device,
    DeviceError,
    TransportError,
    UcryptoError,
    Unsupported,
    UsageError,
    VerificationError,
    verify,
)

__all__ = [
    "AesSession",
    "Device",
    "DeviceError",
    "TransportError",
    "UcryptoError",
    "Unsupported",
    "UsageError",
    "VerificationError",
    "verify",
]
