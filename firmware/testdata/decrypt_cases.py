"""Decryption cases for one RSA key, made with Python's `cryptography` (OpenSSL) and plain
integers, independent of the engine. Valid cases are OAEP (SHA-256, MGF1-SHA-256, empty label)
and PKCS#1 v1.5 encryptions by `cryptography`; invalid ones are blocks built by hand with one
malformation each, raised to e with Python's pow (raw RSA), so only their padding is wrong.

Usage: decrypt_cases.py N_HEX E_HEX
Prints one case a line: `<padding> <valid|invalid> <ciphertext hex> <plaintext hex or case name>`.
"""
import hashlib
import os
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

n, e = int(sys.argv[1], 16), int(sys.argv[2], 16)
k = (n.bit_length() + 7) // 8
public = rsa.RSAPublicNumbers(e, n).public_key()
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
H = 32
LHASH = hashlib.sha256(b"").digest()


def raw(block):
    return pow(int.from_bytes(block, "big"), e, n).to_bytes(k, "big")


def mgf1(seed, length):
    out = b""
    for counter in range((length + H - 1) // H):
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
    return out[:length]


def oaep_block(db, y=0, seed=None):
    """EME-OAEP encoding (RFC 8017 7.1.1 step 2) of a data block `db` as given."""
    seed = seed if seed is not None else os.urandom(H)
    masked_db = bytes(a ^ b for a, b in zip(db, mgf1(seed, k - H - 1)))
    masked_seed = bytes(a ^ b for a, b in zip(seed, mgf1(masked_db, H)))
    return bytes([y]) + masked_seed + masked_db


def oaep_db(message, lhash=LHASH, separator=1, ps_byte=0):
    ps = bytes([ps_byte]) * (k - len(message) - 2 * H - 2)
    return lhash + ps + bytes([separator]) + message


def nonzero(count):
    return bytes((b % 255) + 1 for b in os.urandom(count))


def v15_block(message, first=0, second=2, ps=None):
    ps = ps if ps is not None else nonzero(k - len(message) - 3)
    return bytes([first, second]) + ps + b"\x00" + message


def out(pad, valid, ciphertext, what):
    print(pad, "valid" if valid else "invalid", ciphertext.hex(), what)


max_oaep = k - 2 * H - 2
for message in [b"", b"\x00", b"A", os.urandom(32), os.urandom(max_oaep)]:
    out("oaep", True, public.encrypt(message, OAEP), message.hex() or "-")
# Valid by hand too, with edge shapes cryptography would not pick: a message starting with
# 0x01 or 0x00 bytes right after the separator.
for message in [b"\x01\x01", b"\x00\x00\x01"]:
    out("oaep", True, raw(oaep_block(oaep_db(message))), message.hex())
m = b"secret"
for name, block in [
    ("first-byte-1", oaep_block(oaep_db(m), y=1)),
    ("first-byte-80", oaep_block(oaep_db(m), y=0x80)),
    ("wrong-lhash", oaep_block(oaep_db(m, lhash=hashlib.sha256(b"label").digest()))),
    ("lhash-last-bit", oaep_block(oaep_db(m, lhash=LHASH[:-1] + bytes([LHASH[-1] ^ 1])))),
    ("no-separator", oaep_block(LHASH + bytes(k - 2 * H - 1))),
    ("separator-02", oaep_block(oaep_db(m, separator=2))),
    ("separator-ff", oaep_block(oaep_db(m, separator=0xFF))),
    ("ps-nonzero", oaep_block(oaep_db(m, ps_byte=7))),
    ("all-zero", bytes(k)),
    ("ones-block", oaep_block(b"\x01" * (k - H - 1))),
]:
    out("oaep", False, raw(block), name)

# An OAEP block read as PKCS#1 v1.5: its second byte (random) must not happen to be 0x02.
oaep_not_v15 = oaep_block(oaep_db(m))
while oaep_not_v15[1] == 2:
    oaep_not_v15 = oaep_block(oaep_db(m))
for message in [b"", b"\x00", b"A", os.urandom(32), os.urandom(k - 11)]:
    out("pkcs1", True, public.encrypt(message, padding.PKCS1v15()), message.hex() or "-")
for name, block in [
    ("first-byte-1", v15_block(m, first=1)),
    ("block-type-1", v15_block(m, second=1)),
    ("block-type-0", v15_block(m, second=0)),
    ("no-separator", bytes([0, 2]) + nonzero(k - 2)),
    ("ps-7-bytes", bytes([0, 2]) + nonzero(7) + b"\x00" + os.urandom(k - 10)),
    ("ps-empty", bytes([0, 2, 0]) + nonzero(k - 3)),
    ("ps-1-byte", bytes([0, 2]) + nonzero(1) + b"\x00" + nonzero(k - 4)),
    ("all-zero", bytes(k)),
    ("oaep-block", oaep_not_v15),
]:
    out("pkcs1", False, raw(block), name)
# Public refusals, answered the same way: a ciphertext not below n, and one byte short.
for pad in ["oaep", "pkcs1"]:
    out(pad, False, n.to_bytes(k, "big"), "ciphertext-equals-n")
    out(pad, False, public.encrypt(m, OAEP)[1:], "one-byte-short")
