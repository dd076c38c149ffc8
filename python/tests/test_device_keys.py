"""Device keys through `ucrypto.Device` against the in-process virtual device: a key generated
in a slot signs, and the signature, the exported public key and the CSR are checked with Python's
`cryptography`; burns without `burn=True` and burns into a used slot are refused."""
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

import ucrypto


@pytest.fixture
def dev():
    with ucrypto.Device("sim") as dev:
        yield dev


def verify_rs256(public, signature, message):
    """Raises cryptography's InvalidSignature when the signature does not hold."""
    public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_a_generated_key_signs_and_its_public_key_and_csr_verify(dev):
    assert all(s["state"] == "free" for s in dev.key_slots())
    made = dev.key_generate(2, 2048, burn=True)
    assert made["slot"] == 2 and made["bits"] == 2048 and made["test_signature_verified"]

    der = dev.key_public(2, format="der")
    assert hashlib.sha256(der).hexdigest() == made["spki_sha256"]
    public = serialization.load_der_public_key(der)
    assert public.key_size == 2048
    pem_public = serialization.load_pem_public_key(dev.key_public(2).encode())
    assert pem_public.public_numbers() == public.public_numbers()
    listed = dev.key_slots()[2]
    assert listed["state"] == "ds-key" and listed["spki_sha256"] == made["spki_sha256"]

    message = b"signed by a key that never left the chip"
    verify_rs256(public, dev.sign(message, slot=2), message)
    digest = hashlib.sha256(b"a digest made elsewhere").digest()
    signature = dev.sign_digest(digest, slot=2)
    verify_rs256(public, signature, b"a digest made elsewhere")

    csr = x509.load_der_x509_csr(dev.csr(2, "CN=device-1,O=Example"))
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == "CN=device-1,O=Example"
    assert csr.public_key().public_numbers() == public.public_numbers()


def test_a_second_burn_into_a_used_slot_is_a_device_error(dev):
    dev.key_generate(0, 2048, burn=True)
    with pytest.raises(ucrypto.DeviceError) as e:
        dev.key_generate(0, 2048, burn=True)
    assert e.value.exit_code == 1
    assert "not free" in str(e.value)


def test_an_imported_key_signs_as_the_original(dev, rsa_key):
    key, pem = rsa_key
    made = dev.key_import("any", pem, burn=True)
    # "any" is the highest free slot of 2 to 5.
    assert made["slot"] == 5
    assert dev.key_slots()[5]["origin"] == "imported"
    message = b"imported"
    signature = dev.sign(message, slot=made["slot"])
    verify_rs256(key.public_key(), signature, message)
    # PKCS#1 v1.5 is deterministic: the same key signs the same bytes on the host.
    assert signature == key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def test_no_burn_without_burn_true(dev, rsa_key):
    for call in (
        lambda: dev.key_generate(1),
        lambda: dev.key_generate(1, 2048, burn=False),
        lambda: dev.key_import(1, rsa_key[1]),
    ):
        with pytest.raises(ucrypto.UsageError, match="cannot be undone: pass burn=True"):
            call()
    assert dev.key_slots()[1]["state"] == "free"


def test_bad_slot_arguments_are_usage_errors(dev, rsa_key):
    with pytest.raises(ucrypto.UsageError, match="a slot is 0 to 5"):
        dev.key_generate(6, burn=True)
    with pytest.raises(ucrypto.UsageError, match="a slot is"):
        dev.key_generate("next", burn=True)
    with pytest.raises(ucrypto.UsageError, match="not both"):
        dev.sign(b"m", rsa_key[1], slot=0)
    with pytest.raises(ucrypto.UsageError, match="no signing key"):
        dev.sign(b"m")
    with pytest.raises(ucrypto.UsageError, match="pem or der"):
        dev.key_public(0, format="jwk")


def test_an_empty_slot_has_no_key_to_sign_with(dev):
    with pytest.raises(ucrypto.DeviceError, match="holds no device key"):
        dev.sign(b"m", slot=3)
    with pytest.raises(ucrypto.DeviceError, match="holds no device key"):
        dev.csr(3, "CN=x")
