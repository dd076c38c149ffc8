"""`ucrypto.Device` against the virtual device, in-process and over a pty: results checked
against Python's `cryptography` and openssl, errors against the CLI's exit codes."""
import hashlib
import os
import random
import subprocess
import tempfile

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from conftest import modes

import ucrypto

MODES = {
    "ecb": lambda iv: modes.ECB(),
    "cbc": lambda iv: modes.CBC(iv),
    "cfb8": lambda iv: modes.CFB8(iv),
    "cfb128": lambda iv: modes.CFB(iv),
    "ctr": lambda iv: modes.CTR(iv),
}


def reference(mode, key, iv, data, decrypt=False):
    """The same AES from Python's `cryptography` (OpenSSL underneath)."""
    cipher = Cipher(algorithms.AES(key), MODES[mode](iv))
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def block_args(mode, iv):
    if mode == "ecb":
        return {}
    if mode == "ctr":
        return {"counter": iv}
    return {"iv": iv}


def test_info_describes_the_virtual_device(port):
    with ucrypto.Device(port) as dev:
        info = dev.info()
        assert info["virtual"] is True
        assert info["chip"] == "esp32c3"
        assert "aes" in info["capabilities"]["commands"]
        assert dev.port == info["port"]


def test_rand_rounds_up_to_whole_words(port):
    with ucrypto.Device(port) as dev:
        assert [len(dev.rand(b)) for b in (1, 32, 33, 128, 1000)] == [4, 4, 8, 16, 128]
        assert dev.rand(256) != dev.rand(256)


def test_rand_zero_bits_is_a_usage_error():
    with ucrypto.Device("sim") as dev:
        with pytest.raises(ucrypto.UsageError) as err:
            dev.rand(0)
    assert err.value.exit_code == 2
    assert err.value.code == "bad-input"
    assert "BITS must be at least 1" in str(err.value)


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("key_len", [16, 24, 32])
def test_aes_equals_cryptography_both_ways(port, mode, key_len):
    key, iv = os.urandom(key_len), os.urandom(16)
    plain = os.urandom(160 if mode in ("ecb", "cbc") else 157)
    with ucrypto.Device(port) as dev:
        enc = dev.aes(mode, key, **block_args(mode, iv))
        cipher = enc.update(plain) + enc.finish()
        assert cipher == reference(mode, key, iv, plain)
        dec = dev.aes(mode, key, **block_args(mode, iv), decrypt=True)
        assert dec.update(cipher) + dec.finish() == plain


@pytest.mark.parametrize("mode", sorted(MODES))
def test_one_update_equals_any_split(mode):
    """The chain continues across calls: N bytes in one update == the same N bytes in pieces."""
    rng = random.Random(mode)
    key, iv = bytes(rng.randrange(256) for _ in range(16)), bytes(range(16))
    n = 16 * 23 if mode in ("ecb", "cbc") else 365
    plain = bytes(rng.randrange(256) for _ in range(n))
    with ucrypto.Device("sim") as dev:
        whole = dev.aes(mode, key, **block_args(mode, iv))
        expected = whole.update(plain) + whole.finish()
        assert expected == reference(mode, key, iv, plain)
        for _ in range(8):
            cuts = sorted(rng.sample(range(1, n), rng.randrange(1, 12)))
            pieces = [plain[a:b] for a, b in zip([0] + cuts, cuts + [n])]
            session = dev.aes(mode, key, **block_args(mode, iv))
            out = b""
            for piece in pieces:
                got = session.update(piece)
                if mode not in ("ecb", "cbc"):
                    assert len(got) == len(piece), "stream modes return every byte at once"
                out += got
            out += session.finish()
            assert out == expected, f"split at {cuts}"


def test_cbc_refuses_a_partial_block_at_finish():
    with ucrypto.Device("sim") as dev:
        session = dev.aes("cbc", bytes(16), iv=bytes(16))
        assert len(session.update(bytes(20))) == 16
        with pytest.raises(ucrypto.UsageError, match="4 bytes into a block"):
            session.finish()


@pytest.mark.parametrize(
    "mode, kwargs, message",
    [
        ("ecb", {"iv": bytes(16)}, "ECB takes no iv or counter"),
        ("ctr", {"iv": bytes(16)}, "CTR takes counter="),
        ("ctr", {}, "CTR needs counter="),
        ("cbc", {"counter": bytes(16)}, "this mode takes iv="),
        ("cbc", {}, "needs iv="),
        ("cbc", {"iv": bytes(8)}, "iv is 16 bytes, not 8"),
        ("xts", {}, "unknown AES mode `xts`"),
    ],
)
def test_aes_arguments_are_refused_as_the_cli_does(mode, kwargs, message):
    with ucrypto.Device("sim") as dev:
        with pytest.raises(ucrypto.UsageError, match=message):
            dev.aes(mode, bytes(16), **kwargs)
        with pytest.raises(ucrypto.UsageError, match="an AES key is 16, 24 or 32 bytes"):
            dev.aes("ecb", bytes(15))


def test_sign_equals_openssl_and_verifies_with_cryptography(port, rsa_key, openssl):
    key, pem = rsa_key
    message = b"header.payload\x00with a NUL byte"
    with ucrypto.Device(port) as dev:
        signature = dev.sign(message, pem)
        key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        with tempfile.TemporaryDirectory() as d:
            key_path = os.path.join(d, "key.pem")
            with open(key_path, "w") as f:
                f.write(pem)
            expected = subprocess.run(
                [openssl, "dgst", "-sha256", "-sign", key_path],
                input=message,
                capture_output=True,
                check=True,
            ).stdout
        assert signature == expected
        digest = hashlib.sha256(message).digest()
        assert dev.sign_digest(digest, pem.encode()) == expected
        dev.verify(message, signature, pem)
        ucrypto.verify(message, signature, pem)


def test_sign_reads_pkcs1_and_encrypted_pkcs8(rsa_key, rsa_key_pkcs1):
    key, pem = rsa_key
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"correct horse"),
    )
    with ucrypto.Device("sim") as dev:
        expected = dev.sign(b"m", pem)
        assert dev.sign(b"m", rsa_key_pkcs1) == expected
        assert dev.sign(b"m", encrypted, password=b"correct horse") == expected
        with pytest.raises(ucrypto.UsageError, match="pass password="):
            dev.sign(b"m", encrypted)
        with pytest.raises(ucrypto.UsageError, match="wrong password") as err:
            dev.sign(b"m", encrypted, password=b"hunter2")
        assert "hunter2" not in str(err.value), "the password is never repeated"


def test_a_bad_signature_is_a_verification_error(rsa_key):
    _, pem = rsa_key
    with ucrypto.Device("sim") as dev:
        signature = bytearray(dev.sign(b"message", pem))
    with pytest.raises(ucrypto.VerificationError) as err:
        ucrypto.verify(b"massage", bytes(signature), pem)
    assert err.value.exit_code == 3
    signature[0] ^= 1
    with pytest.raises(ucrypto.VerificationError):
        ucrypto.verify(b"message", bytes(signature), pem)
    with pytest.raises(ucrypto.VerificationError, match="256"):
        ucrypto.verify(b"message", bytes(signature[:100]), pem)


def test_a_4096_bit_key_signs_as_cryptography_does():
    """The ESP32-C3's 3072-bit accelerator signs 4096-bit keys too (CRT halves)."""
    big = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    pem = big.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with ucrypto.Device("sim") as dev:
        signature = dev.sign(b"m", pem)
    assert signature == big.sign(b"m", padding.PKCS1v15(), hashes.SHA256())


def test_not_a_key_is_a_usage_error():
    with ucrypto.Device("sim") as dev:
        with pytest.raises(ucrypto.UsageError, match="is not a key"):
            dev.sign(b"m", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_no_device_is_a_transport_error(tmp_path):
    with pytest.raises(ucrypto.TransportError) as err:
        ucrypto.Device(str(tmp_path / "ttyNOPE"))
    assert err.value.exit_code == 4
    assert isinstance(err.value, ucrypto.UcryptoError)


def test_a_closed_device_refuses_calls_and_sessions_end_with_it():
    dev = ucrypto.Device("sim")
    session = dev.aes("ctr", bytes(16), counter=bytes(16))
    dev.close()
    assert dev.closed
    dev.close()  # idempotent
    with pytest.raises(ucrypto.UsageError, match="closed"):
        dev.rand(32)
    with pytest.raises(ucrypto.UsageError, match="closed"):
        session.update(b"x")


def test_sessions_take_turns_on_one_connection(port):
    """The device holds one session at a time; interleaved sessions still chain correctly."""
    key_a, key_b, iv = os.urandom(16), os.urandom(32), os.urandom(16)
    plain = os.urandom(300)
    with ucrypto.Device(port) as dev:
        a = dev.aes("cfb128", key_a, iv=iv)
        b = dev.aes("ctr", key_b, counter=iv)
        out_a = out_b = b""
        for i in range(0, 300, 7):
            out_a += a.update(plain[i : i + 7])
            out_b += b.update(plain[i : i + 7])
            assert dev.rand(32)
        assert out_a == reference("cfb128", key_a, iv, plain)
        assert out_b == reference("ctr", key_b, iv, plain)


def test_no_port_means_ucrypto_port(monkeypatch):
    monkeypatch.setenv("UCRYPTO_PORT", "sim:esp32c6")
    with ucrypto.Device() as dev:
        assert dev.info()["chip"] == "esp32c6"


def test_other_threads_run_while_a_device_waits():
    """The GIL is released during device I/O: while one thread waits on a silent line (a pty
    nobody answers: two Hello attempts of at least 1 s each), another thread's device answers.
    With the GIL held, the second call could only start once the first had failed."""
    import threading
    import time

    master, slave = os.openpty()
    silent = os.ttyname(slave)
    idle = ucrypto.Device("sim")
    started = threading.Event()
    times = {}

    def waiting_call():
        times["start"] = time.monotonic()
        started.set()
        with pytest.raises(ucrypto.TransportError):
            ucrypto.Device(silent, timeout=1.0)
        times["end"] = time.monotonic()

    worker = threading.Thread(target=waiting_call)
    worker.start()
    started.wait()
    idle.rand(32)
    times["other"] = time.monotonic()
    worker.join()
    idle.close()
    os.close(master)
    os.close(slave)
    assert times["end"] - times["start"] >= 2.0
    assert times["other"] < times["start"] + 1.0, "the other thread waited for the GIL"


@pytest.mark.parametrize("mode, name", [("cbc", "cbc"), ("cfb128", "cfb"), ("ctr", "ctr")])
def test_aes_equals_openssl_enc(port, openssl, mode, name):
    key, iv = os.urandom(32), os.urandom(16)
    plain = os.urandom(96)
    expected = subprocess.run(
        [openssl, "enc", f"-aes-256-{name}", "-nopad", "-K", key.hex(), "-iv", iv.hex()],
        input=plain,
        capture_output=True,
        check=True,
    ).stdout
    with ucrypto.Device(port) as dev:
        session = dev.aes(mode, key, **block_args(mode, iv))
        assert session.update(plain[:50]) + session.update(plain[50:]) + session.finish() == expected
