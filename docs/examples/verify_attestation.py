#!/usr/bin/env python3
"""Checks a ucrypto attestation with Python's `cryptography` alone (docs/protocol.md section 6,
"Attestation"; docs/ca.md, section 4, "Attestation").

    verify_attestation.py EVIDENCE.json CA.pem CHALLENGE_HEX

EVIDENCE.json holds "statement" and "signature" (hex) and "certificate" (the device
certificate, PEM), as `ucrypto --json attest` prints them under "evidence"; CHALLENGE_HEX is the
challenge the verifier chose. Prints the statement's fields and exits 0 when every check passes;
otherwise names the failed check and exits 1.
"""
import json
import sys
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

TAG = b"UCRYPTO-ATTESTATION\0"
CHIPS = ["esp32", "esp32s3", "esp32c3", "esp32c6"]
ORIGINS = ["generated", "imported", "unknown"]


def fail(check, why):
    print(f"FAILED {check}: {why}")
    sys.exit(1)


def parse(st):
    """The statement's fields at their fixed offsets (version 1)."""
    if len(st) < 140 or st[:20] != TAG:
        fail("statement", "not an attestation statement")
    if st[20] != 1:
        fail("statement", f"version {st[20]}")
    if len(st) != 140 + st[139]:
        fail("statement", "length")
    return {
        "challenge": st[21:53],
        "device_id": st[53:59],
        "chip": CHIPS[st[59]],
        "virtual": st[60] == 1,
        "slot": st[61],
        "key_bits": int.from_bytes(st[62:64], "big"),
        "spki_sha256": st[64:96],
        "key_origin": ORIGINS[st[96]],
        "key_readable": st[97] == 1,
        "security": None if st[98] == 0xFF else list(st[99:106]),
        "app_sha256": st[107:139].hex() if st[106] == 1 else None,
        "firmware_version": st[140:].decode(),
    }


def main():
    evidence = json.load(open(sys.argv[1]))
    ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
    challenge = bytes.fromhex(sys.argv[3])
    statement = bytes.fromhex(evidence["statement"])
    signature = bytes.fromhex(evidence["signature"])
    cert = x509.load_pem_x509_certificate(evidence["certificate"].encode())
    fields = parse(statement)
    if fields["challenge"] != challenge:
        fail("challenge", "not over our challenge (a replayed answer)")
    try:
        cert.public_key().verify(signature, statement, padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        fail("signature", "does not verify with the device certificate's key")
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    if digest.finalize() != fields["spki_sha256"]:
        fail("certificate key", "the certificate is not for the slot's key")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    urn = "urn:dev:mac:" + fields["device_id"].hex()
    if urn not in san.get_values_for_type(x509.UniformResourceIdentifier):
        fail("device id", f"the certificate does not name {urn}")
    try:
        cert.verify_directly_issued_by(ca)
    except Exception as e:
        fail("chain", f"not issued by the CA: {e}")
    now = datetime.now(timezone.utc)
    if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
        fail("chain", "the certificate is outside its validity")
    for name, value in fields.items():
        print(f"{name}: {value.hex() if isinstance(value, bytes) else value}")
    print("OK")


main()
