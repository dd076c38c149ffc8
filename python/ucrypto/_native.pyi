"""Type stubs of the Rust extension (python/src/lib.rs)."""
from types import TracebackType
from typing import Any, Dict, List, Literal, Optional, Type, Union, overload

Key = Union[str, bytes]
# A slot number, or "any" for the lowest free slot.
Slot = Union[int, Literal["any"]]

class UcryptoError(Exception):
    exit_code: int
    code: str

class DeviceError(UcryptoError): ...
class UsageError(UcryptoError): ...
class VerificationError(UcryptoError): ...
class TransportError(UcryptoError): ...
class Unsupported(UcryptoError): ...

class AesSession:
    def update(self, data: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def close(self) -> None: ...
    def __enter__(self) -> "AesSession": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

class Device:
    def __init__(
        self,
        port: Optional[str] = None,
        *,
        timeout: float = 2.0,
        baud: Optional[int] = None,
    ) -> None: ...
    @property
    def port(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def info(self) -> Dict[str, Any]: ...
    def rand(self, bits: int) -> bytes: ...
    def aes(
        self,
        mode: str,
        key: bytes,
        iv: Optional[bytes] = None,
        counter: Optional[bytes] = None,
        *,
        decrypt: bool = False,
    ) -> AesSession: ...
    def sign(
        self,
        message: bytes,
        key: Optional[Key] = None,
        *,
        password: Optional[bytes] = None,
        slot: Optional[int] = None,
    ) -> bytes: ...
    def sign_digest(
        self,
        digest: bytes,
        key: Optional[Key] = None,
        *,
        password: Optional[bytes] = None,
        slot: Optional[int] = None,
    ) -> bytes: ...
    def key_slots(self) -> List[Dict[str, Any]]: ...
    @overload
    def key_public(self, slot: int, format: Literal["pem"] = "pem") -> str: ...
    @overload
    def key_public(self, slot: int, format: Literal["der"]) -> bytes: ...
    def key_generate(
        self, slot: Slot, bits: int = 2048, *, burn: bool = False
    ) -> Dict[str, Any]: ...
    def key_import(
        self,
        slot: Slot,
        key: Key,
        *,
        burn: bool = False,
        password: Optional[bytes] = None,
    ) -> Dict[str, Any]: ...
    def csr(self, slot: int, subject: str) -> bytes: ...
    def verify(self, message: bytes, signature: bytes, key: Key) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Device": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

def verify(message: bytes, signature: bytes, key: Key) -> None: ...
