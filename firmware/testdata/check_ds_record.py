#!/usr/bin/env python3
"""Checks a virtual device's key record independently of the Rust code, from the formats alone.

Usage: check_ds_record.py EFUSE_FILE PARTITION_FILE SLOT MAX_BITS [D_HEX]

Reads the esp_secure_cert TLV entries of the partition (esp_secure_cert_mgr tlv_format.py:
magic, flags, type, subtype, length, data padded to 16, zlib CRC-32 from 0xffffffff), takes the
eFuse key K of KEY<SLOT> from the eFuse file (352 bytes, 11 blocks of 8 little-endian words),
decrypts DS_DATA with AES-256-CBC under HMAC-SHA256(K, 0xFF*32) (Python's hmac and
`cryptography`), and checks every field of Y || M || Rb || MD || M' || L || 0x08*8 as
configure_ds.py computes them. Y must be D_HEX when given, else a working private exponent for
the public key in the USER_DATA_1 entry. Prints "ok <bits> <n hex> <e>" or exits with 1.
"""
import hashlib
import hmac
import struct
import sys
import zlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import load_der_public_key


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def entries(part):
    off = 0
    while off + 12 <= len(part):
        magic, flags, typ, sub, length = struct.unpack_from("<IB3xBBH", part, off)
        if magic != 0xBA5EBA11:
            break
        pad = (16 - length % 16) % 16
        body = part[off:off + 12 + length + pad]
        (crc,) = struct.unpack_from("<I", part, off + 12 + length + pad)
        if zlib.crc32(body, 0xFFFFFFFF) != crc:
            fail(f"bad CRC at {off:#x}")
        yield typ, sub, part[off + 12:off + 12 + length]
        off += 12 + length + pad + 4


def main():
    efuse = open(sys.argv[1], "rb").read()
    part = open(sys.argv[2], "rb").read()
    slot, max_bits = int(sys.argv[3]), int(sys.argv[4])
    d_expected = int(sys.argv[5], 16) if len(sys.argv) > 5 else None
    if len(efuse) != 352:
        fail("eFuse file length")
    block0 = struct.unpack_from("<6I", efuse, 0)
    purpose_bit = 88 + 4 * slot
    purpose = (block0[purpose_bit // 32] >> (purpose_bit % 32)) & 0xF
    if purpose != 7:
        fail(f"purpose {purpose}")
    if not (block0[1] >> slot) & 1:
        fail("not read-protected")
    if not ((block0[0] >> (23 + slot)) & 1 and (block0[0] >> (8 + slot)) & 1):
        fail("not write-protected")
    k = efuse[32 * (4 + slot):32 * (5 + slot)]

    found = {typ: data for typ, sub, data in entries(part) if sub == slot}
    if not {3, 4, 51} <= found.keys():
        fail(f"entries {sorted(found)}")
    ctx = found[4]
    reserved, key_id, _, key_bits = struct.unpack("<IBBH", ctx)
    if reserved != 0 or key_id != slot:
        fail("DS_CONTEXT")
    pub = load_der_public_key(found[51]).public_numbers()
    n, e = pub.n, pub.e
    ds = found[3]
    (length,) = struct.unpack_from("<i", ds, 0)
    iv, c = ds[4:20], ds[20:]
    num = max_bits // 8
    if len(c) != 3 * num + 48:
        fail("ciphertext length")
    aes_key = hmac.new(k, b"\xff" * 32, hashlib.sha256).digest()
    dec = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    p = dec.update(c) + dec.finalize()
    y = int.from_bytes(p[:num], "little")
    m = int.from_bytes(p[num:2 * num], "little")
    rb = int.from_bytes(p[2 * num:3 * num], "little")
    md = p[3 * num:3 * num + 32]
    mprime, l = struct.unpack_from("<II", p, 3 * num + 32)
    if p[3 * num + 40:] != b"\x08" * 8:
        fail("padding")
    key_size = 32 * (length + 1)
    if m != n or l != length or key_bits != n.bit_length():
        fail("M, L or bits")
    if rb != (1 << (2 * key_size)) % n:
        fail("Rb")
    if mprime != (-pow(n, -1, 1 << 32)) & 0xFFFFFFFF:
        fail("M'")
    if md != hashlib.sha256(p[:3 * num] + struct.pack("<II", mprime, l) + iv).digest():
        fail("MD")
    if d_expected is not None and y != d_expected:
        fail("Y is not d")
    for x in (2, 0x1234567, n - 2):
        if pow(pow(x, e, n), y, n) != x:
            fail("Y is not a private exponent of the key")
    print(f"ok {key_bits} {n:x} {e}")


main()
