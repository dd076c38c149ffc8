#!/usr/bin/env python3
"""Checks a virtual device's key record independently of the Rust code, from the formats alone.

Usage: check_ds_record.py EFUSE_FILE PARTITION_FILE SLOT MAX_BITS [D_HEX]

Finds the record's entries the way ESP-IDF's esp_secure_cert_mgr does (read from its source,
srcs/esp_secure_cert_tlv_read.c: esp_secure_cert_find_tlv, esp_secure_cert_tlv_get_addr,
esp_secure_cert_tlv_get_ds_ctx), not the way the Rust engine does: from the partition's start,
entries are skipped by their length alone until the first word that is not the magic 0xBA5EBA11;
the FIRST entry of the asked type and subtype is the answer, its CRC (zlib CRC-32 from
0xffffffff over header, data and padding to 16) is checked, and a bad one is a failure, not a
reason to look further. Then takes the eFuse key K of KEY<SLOT> from the eFuse file (352 bytes,
11 blocks of 8 little-endian words), decrypts DS_DATA with AES-256-CBC under
HMAC-SHA256(K, 0xFF*32) (Python's hmac and `cryptography`), and checks every field of
Y || M || Rb || MD || M' || L || 0x08*8 as configure_ds.py computes them. Y must be D_HEX when
given, else a working private exponent for the public key in the USER_DATA_1 entry. Prints
"ok <bits> <n hex> <e>" or "FAIL: <why>" and exits with 1.
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


MAGIC = 0xBA5EBA11
DS_DATA, DS_CONTEXT, USER_DATA_1 = 3, 4, 51


def find_tlv(part, typ, sub):
    """The data of the first entry of `typ` and `sub`, or a failure."""
    off = 0
    while off + 12 <= len(part):
        magic, flags, t, s, length = struct.unpack_from("<IB3xBBH", part, off)
        if magic != MAGIC:
            break
        pad = (16 - length % 16) % 16
        if t == typ and s == sub:
            crc_end = off + 12 + length + pad
            if crc_end + 4 > len(part):
                fail(f"type {typ} subtype {sub}: runs past the partition")
            (crc,) = struct.unpack_from("<I", part, crc_end)
            if zlib.crc32(part[off:crc_end], 0xFFFFFFFF) != crc:
                fail(f"type {typ} subtype {sub}: bad CRC at {off:#x}")
            # esp_secure_cert_tlv_get_addr: flag bits 7..6 = 0b10 is HMAC-encrypted data, 0b01
            # an HMAC-derived ECDSA key; either way not the bytes stored.
            if flags & 0xC0 in (0x80, 0x40):
                fail(f"type {typ} subtype {sub}: HMAC flags {flags:#x}")
            return part[off + 12:off + 12 + length]
        off += 12 + length + pad + 4
    fail(f"type {typ} subtype {sub}: not found")


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

    ds = find_tlv(part, DS_DATA, slot)
    ctx = find_tlv(part, DS_CONTEXT, slot)
    # esp_secure_cert_tlv_get_ds_ctx: the entry must be sizeof(esp_ds_data_ctx_t), 8 bytes on
    # the 32-bit chips (a pointer, efuse_key_id, rsa_length_bits).
    if len(ctx) != 8:
        fail("DS_CONTEXT length")
    reserved, key_id, _, key_bits = struct.unpack("<IBBH", ctx)
    if reserved != 0 or key_id != slot:
        fail("DS_CONTEXT")
    pub = load_der_public_key(find_tlv(part, USER_DATA_1, slot)).public_numbers()
    n, e = pub.n, pub.e
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
