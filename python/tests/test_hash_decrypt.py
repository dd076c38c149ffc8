"""Digests and RSA decryption through `ucrypto.Device`, against `hashlib` and Python's
`cryptography`: on the in-process virtual device and over a pty (`port`)."""
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

import ucrypto
import ucrypto.hashlib

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
# Block boundaries of SHA-1/224/256 (+-1), and more than one device chunk (3072 bytes).
LENGTHS = [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 3071, 3072, 3073, 100_000]


def message(n):
    return bytes((i * 13 + 5) % 256 for i in range(n))


def test_sha256_equals_hashlib(port):
    with ucrypto.Device(port) as dev:
        for n in LENGTHS:
            assert dev.sha256(message(n)) == hashlib.sha256(message(n)).digest(), n


def test_hash_objects_behave_like_hashlib():
    with ucrypto.Device("sim") as dev:
        for name in ["sha256", "sha224", "sha1"]:
            h = ucrypto.hashlib.new(name, b"ab", device=dev)
            ref = hashlib.new(name, b"ab")
            assert (h.name, h.digest_size, h.block_size) == (name, ref.digest_size, 64)
            for piece in [b"c", message(5000), b"", message(64)]:
                h.update(piece)
                ref.update(piece)
            assert h.on_device
            assert h.digest() == ref.digest()
            assert h.hexdigest() == ref.hexdigest()  # asked again: the same
            assert h.on_device

            # A copy carries on on the host; the original is unchanged by it.
            c = h.copy()
            c.update(b"more")
            assert not c.on_device
            assert c.hexdigest() == hashlib.new(name, b"ab" + b"c" + message(5000) + message(64) + b"more").hexdigest()
            assert h.digest() == ref.digest()
            # update after digest continues on the host, as hashlib allows.
            h.update(b"tail")
            ref.update(b"tail")
            assert h.digest() == ref.digest()
            assert not h.on_device
        # A copy taken mid-stream, before any digest.
        h = ucrypto.hashlib.sha256(b"x" * 4000, device=dev)
        c = h.copy()
        h.update(b"y")
        c.update(b"z")
        assert h.digest() == hashlib.sha256(b"x" * 4000 + b"y").digest()
        assert c.digest() == hashlib.sha256(b"x" * 4000 + b"z").digest()
        with pytest.raises(ucrypto.UsageError):
            dev.hash("md5")


def test_a_sent_key_decrypts_what_cryptography_sealed(port, rsa_key):
    key, pem = rsa_key
    public = key.public_key()
    with ucrypto.Device(port) as dev:
        for text in [b"", b"k", b"an AES-256 key:" + bytes(range(32))]:
            assert dev.decrypt(public.encrypt(text, OAEP), key=pem) == text
            sealed = public.encrypt(text, padding.PKCS1v15())
            assert dev.decrypt(sealed, key=pem, padding="pkcs1v15") == text
        with pytest.raises(ucrypto.DeviceError) as refused:
            dev.decrypt(public.encrypt(b"k", padding.PKCS1v15()), key=pem)
        assert refused.value.code == "decrypt-failed"


def test_encrypt_opens_with_cryptography(rsa_key):
    key, pem = rsa_key
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for k in [pem, public_pem]:
        assert key.decrypt(ucrypto.encrypt(b"secret", k), OAEP) == b"secret"
        sealed = ucrypto.encrypt(b"secret", k, padding="pkcs1v15")
        assert key.decrypt(sealed, padding.PKCS1v15()) == b"secret"
    with pytest.raises(ucrypto.UsageError):
        ucrypto.encrypt(b"x" * 191, pem)


def test_a_device_key_opens_a_secret_sealed_to_its_public_key(rsa_key):
    key, pem = rsa_key
    with ucrypto.Device("sim") as dev:
        dev.key_import(3, pem, burn=True)
        public = dev.key_public(3)
        sealed = ucrypto.encrypt(b"wifi: hunter2", public)
        assert dev.decrypt(sealed, slot=3) == b"wifi: hunter2"
        assert dev.decrypt(key.public_key().encrypt(b"v15", padding.PKCS1v15()), slot=3, padding="pkcs1v15") == b"v15"
        damaged = bytearray(sealed)
        damaged[-1] ^= 1
        with pytest.raises(ucrypto.DeviceError) as refused:
            dev.decrypt(bytes(damaged), slot=3)
        assert refused.value.code == "decrypt-failed"
        with pytest.raises(ucrypto.UsageError):
            dev.decrypt(sealed)
