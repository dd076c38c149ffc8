"""``hashlib``-style constructors that hash on a device's SHA accelerator.

    import ucrypto, ucrypto.hashlib
    with ucrypto.Device("sim") as dev:
        h = ucrypto.hashlib.sha256(b"abc", device=dev)
        h.update(b"def")
        h.hexdigest()

Each object streams to the device over the ``Device``'s one connection, and the host hashes the
same bytes to check the device's digest. The device holds one session per connection and
cannot copy one: ``copy()``, and ``update()`` after ``digest()``, continue with the host's hash
(``on_device`` is then False). SHA-1 is legacy: only for protocols that still require it.
"""
from ._native import Device, Hash

algorithms_available = frozenset({"sha256", "sha224", "sha1"})
algorithms_guaranteed = algorithms_available

__all__ = ["algorithms_available", "algorithms_guaranteed", "new", "sha1", "sha224", "sha256"]


def new(name: str, data: bytes = b"", *, device: Device) -> Hash:
    """A hash object for ``name`` (``sha256``, ``sha224`` or ``sha1``) fed ``data`` first."""
    return device.hash(name, data)


def sha256(data: bytes = b"", *, device: Device) -> Hash:
    return new("sha256", data, device=device)


def sha224(data: bytes = b"", *, device: Device) -> Hash:
    return new("sha224", data, device=device)


def sha1(data: bytes = b"", *, device: Device) -> Hash:
    """Legacy (collisions are practical)."""
    return new("sha1", data, device=device)
