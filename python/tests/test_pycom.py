"""`ucrypto.pycom` as a drop-in for Pycom's `crypto` module: the examples of Pycom's
documentation, Pycom's constants, defaults and errors, and the chain continued across calls (in
both directions, as Pycom's object does), checked against Python's `cryptography`."""
import os
import random
import subprocess
import sys
import textwrap

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from conftest import modes

import ucrypto
import ucrypto.pycom as crypto
from ucrypto.pycom import AES


@pytest.fixture(autouse=True)
def pycom_port(port):
    """Every test runs against the in-process sim and against `ucrypto sim` on a pty."""
    crypto.use_port(port)
    yield port
    crypto.use_port(None)


def reference(mode, key, iv, data, decrypt=False):
    cipher = Cipher(algorithms.AES(key), mode(iv) if iv is not None else mode())
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


# Pycom mode + segment size -> cryptography's mode, and whether it takes IV or counter.
CASES = {
    "ECB": (AES.MODE_ECB, 0, modes.ECB, None),
    "CBC": (AES.MODE_CBC, 0, modes.CBC, "IV"),
    "CFB8": (AES.MODE_CFB, AES.SEGMENT_8, modes.CFB8, "IV"),
    "CFB128": (AES.MODE_CFB, AES.SEGMENT_128, modes.CFB, "IV"),
    "CTR": (AES.MODE_CTR, 0, modes.CTR, "counter"),
}


def make(name, key, iv):
    mode, segment, _, takes = CASES[name]
    kwargs = {takes: iv} if takes else {}
    return AES(key, mode, segment_size=segment, **kwargs)


def test_pycom_quick_usage_example():
    # As printed in Pycom's AES documentation.
    key = b'notsuchsecretkey' # 128 bit (16 bytes) key
    iv = crypto.getrandbits(128) # hardware generated random IV (never reuse it)

    cipher = AES(key, AES.MODE_CFB, iv)
    msg = iv + cipher.encrypt(b'Attack at dawn')

    # ... after properly sent the encrypted message somewhere ...

    cipher = AES(key, AES.MODE_CFB, msg[:16]) # on the decryption side
    original = cipher.decrypt(msg[16:])
    assert original == b'Attack at dawn'
    # Pycom's default segment size is 8 bits: CFB8.
    assert msg[16:] == reference(modes.CFB8, key, iv, b'Attack at dawn')


def test_pycom_generate_rsa_signature_example(rsa_key, tmp_path, monkeypatch):
    key, pem = rsa_key
    (tmp_path / "cert").mkdir()
    (tmp_path / "cert" / "private_key_pkcs8.pem").write_text(pem)
    monkeypatch.chdir(tmp_path)
    # As printed in Pycom's crypto documentation.
    # Example of a JWT header + payload
    header_payload = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    # Private key MUST BE in PKCS8 format !!!
    f = open("cert/private_key_pkcs8.pem")
    pk = f.read()
    # Generate the signature
    signature = crypto.generate_rsa_signature(header_payload, pk, pers="my_pers_string")
    f.close()
    key.public_key().verify(
        signature, header_payload.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_signatures_cover_every_byte_of_the_message(rsa_key):
    """Unlike Pycom (which stops at the first NUL), the whole message is signed."""
    key, pem = rsa_key
    message = b"before\x00after"
    signature = crypto.generate_rsa_signature(message, pem)
    key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(Exception):
        key.public_key().verify(signature, b"before", padding.PKCS1v15(), hashes.SHA256())


def test_a_bad_key_is_a_value_error():
    with pytest.raises(ValueError, match="not a key"):
        crypto.generate_rsa_signature("m", "not a key at all")


def test_getrandbits_rounds_up_to_32():
    assert crypto.getrandbits(0) == b""
    assert [len(crypto.getrandbits(b)) for b in (1, 31, 32, 33, 128, 129)] == [4, 4, 4, 8, 16, 20]
    assert crypto.getrandbits(128) != crypto.getrandbits(128)
    with pytest.raises(ValueError):
        crypto.getrandbits(-1)


def test_constants_are_pycoms():
    assert (AES.MODE_ECB, AES.MODE_CBC, AES.MODE_CFB, AES.MODE_CTR) == (1, 2, 3, 6)
    assert (AES.SEGMENT_8, AES.SEGMENT_128) == (8, 128)


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((bytes(15),), {}, ValueError, "AES key must be either 16, 24, or 32 bytes long"),
        ((bytes(16), 4), {}, ValueError, "Unknown cipher feedback mode 4"),
        ((bytes(16), AES.MODE_CBC, bytes(8)), {}, ValueError, "IV must be 16 bytes long"),
        ((bytes(16), AES.MODE_CBC), {}, ValueError, "IV must be 16 bytes long"),
        ((bytes(16), AES.MODE_CTR), {"counter": bytes(4)}, ValueError, "Initial counter value must be 16 bytes long"),
        ((bytes(16), AES.MODE_CTR), {}, TypeError, "buffer protocol"),
        ((bytes(16), AES.MODE_CBC, bytes(16)), {"counter": bytes(16)}, ValueError, "'counter' parameter only useful with CTR mode"),
        ((bytes(16), AES.MODE_CFB, bytes(16)), {"segment_size": 16}, ValueError, "segment_size must be 8 or 128"),
    ],
)
def test_constructor_errors_are_pycoms(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        AES(*args, **kwargs)


def test_ecb_is_the_default_and_ignores_an_iv():
    key = bytes(range(16))
    cipher = AES(key, IV=bytes(16))  # Pycom ignores IV in ECB (and CTR)
    assert cipher.encrypt(bytes(32)) == reference(modes.ECB, key, None, bytes(32))
    with pytest.raises(ValueError, match="Input strings must be a multiple of 16 in length"):
        cipher.encrypt(b"short")
    ctr = AES(key, AES.MODE_CTR, IV=bytes(16), counter=bytes(16))
    assert ctr.encrypt(b"abc") == reference(modes.CTR, key, bytes(16), b"abc")


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_encrypt_equals_any_split(name):
    """Stateful chaining, every mode: one call of N bytes == the same N bytes over any calls."""
    rng = random.Random(name)
    key = bytes(rng.randrange(256) for _ in range(32))
    iv = bytes(rng.randrange(256) for _ in range(16))
    whole_blocks = name in ("ECB", "CBC")
    n = 16 * 20 if whole_blocks else 333
    plain = bytes(rng.randrange(256) for _ in range(n))
    _, _, mode, takes = CASES[name]
    expected = reference(mode, key, iv if takes else None, plain)
    assert make(name, key, iv).encrypt(plain) == expected
    for _ in range(6):
        step = 16 if whole_blocks else 1
        cuts = sorted({rng.randrange(1, n // step) * step for _ in range(rng.randrange(1, 10))})
        pieces = [plain[a:b] for a, b in zip([0] + cuts, cuts + [n])]
        cipher = make(name, key, iv)
        assert b"".join(cipher.encrypt(p) for p in pieces) == expected, f"cuts {cuts}"
        decipher = make(name, key, iv)
        ct_pieces = [expected[a:b] for a, b in zip([0] + cuts, cuts + [n])]
        assert b"".join(decipher.decrypt(c) for c in ct_pieces) == plain, f"cuts {cuts}"


@pytest.mark.parametrize("name", ["CBC", "CFB8", "CFB128", "CTR"])
def test_encrypt_then_decrypt_on_one_object_continues_one_chain(name):
    """Pycom's object keeps one chaining state for both directions: after encrypting P1 into
    C1, decrypting C2 gives what a decryption of C1 + C2 gives for its C2 part."""
    key, iv = os.urandom(16), os.urandom(16)
    _, _, mode, _ = CASES[name]
    first = 32 if name == "CBC" else 21  # CFB128 and CTR switch mid-block
    p1, c2 = os.urandom(first), os.urandom(48)
    cipher = make(name, key, iv)
    c1 = cipher.encrypt(p1)
    assert c1 == reference(mode, key, iv, p1)
    p2 = cipher.decrypt(c2)
    assert p2 == reference(mode, key, iv, c1 + c2, decrypt=True)[len(c1):]
    # And back to encrypting: the ciphertext so far is c1 + c2.
    p3 = os.urandom(32)
    c3 = cipher.encrypt(p3)
    assert len(c3) == 32
    assert reference(mode, key, iv, c1 + c2 + c3, decrypt=True)[-32:] == p3


def test_two_objects_alive_at_once_keep_their_chains():
    key = b"notsuchsecretkey"
    a, b = AES(key, AES.MODE_CBC, bytes(16)), AES(key, AES.MODE_CFB, bytes(16), segment_size=128)
    out_a = out_b = b""
    for i in range(5):
        out_a += a.encrypt(bytes([i]) * 16)
        out_b += b.encrypt(bytes([i]) * 9)
    plain_a = b"".join(bytes([i]) * 16 for i in range(5))
    plain_b = b"".join(bytes([i]) * 9 for i in range(5))
    assert out_a == reference(modes.CBC, key, bytes(16), plain_a)
    assert out_b == reference(modes.CFB, key, bytes(16), plain_b)


def test_device_errors_are_ucrypto_errors(tmp_path):
    crypto.use_port(str(tmp_path / "ttyNOPE"))
    with pytest.raises(ucrypto.TransportError):
        crypto.getrandbits(32)


def test_a_pycom_script_runs_unchanged(tmp_path, rsa_key, pycom_port):
    """`python -m ucrypto.pycom script.py` makes `import crypto` the drop-in; the port comes
    from UCRYPTO_PORT."""
    _, pem = rsa_key
    (tmp_path / "key.pem").write_text(pem)
    script = tmp_path / "main.py"
    script.write_text(textwrap.dedent("""\
        import crypto
        from crypto import AES

        key = crypto.getrandbits(128)
        iv = crypto.getrandbits(128)
        cipher = AES(key, AES.MODE_CBC, iv)
        ct = cipher.encrypt(b'sixteen byte msg' * 2)
        assert AES(key, AES.MODE_CBC, iv).decrypt(ct) == b'sixteen byte msg' * 2
        ctr = AES(key, AES.MODE_CTR, counter=iv)
        assert len(ctr.encrypt(b'abc') + ctr.encrypt(b'defg')) == 7
        pk = open('key.pem').read()
        sig = crypto.generate_rsa_signature('header.payload', pk, pers='factory')
        print(len(sig))
    """))
    env = dict(os.environ, UCRYPTO_PORT=pycom_port)
    done = subprocess.run(
        [sys.executable, "-m", "ucrypto.pycom", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "256"
