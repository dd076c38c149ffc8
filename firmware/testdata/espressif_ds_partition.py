#!/usr/bin/env python3
"""Makes an esp_secure_cert partition and eFuse state the way Espressif's own tools do, for
tests that read them (never from the Rust code: from the published format alone).

Usage: espressif_ds_partition.py OUT_DIR KEY_ID [readable] [der] [hmac=HEX]

Written from esp_secure_cert_mgr's description of its RSA-DS flow (tools/configure_esp_secure_cert.py
with --configure_ds, tlv_format.py `prepare_tlv` and `generate_partition_rsa_ds`, configure_ds.py
`calculate_rsa_ds_params`), and espefuse's `burn_key BLOCK_KEY<N> KEYFILE HMAC_DOWN_DIGITAL_SIGNATURE`:

* a 2048-bit RSA key from Python's `cryptography` (its d is e^-1 mod lcm(p-1, q-1)) and a
  self-signed device certificate for it;
* the DS parameters: Y = the key's d, M = n, Rb = 2^(2*2048) mod n, M' = -n^-1 mod 2^32,
  L = 2048/32 - 1, each number little-endian in 3072 bits (the C3's largest), MD =
  SHA-256(Y || M || Rb || M' || L || IV), then Y || M || Rb || MD || M' || L || 0x08*8
  encrypted with AES-256-CBC under HMAC-SHA256(eFuse key, 0xFF*32) and a random IV;
* the TLV entries, each `magic 0xBA5EBA11 | 4 zero bytes | type u16 | length u16 | data | zero
  padding to 16 | zlib.crc32(all before, 0xffffffff)`, i.e. subtype 0: DEV_CERT (type 1, PEM
  with a NUL appended, or DER with `der`), DS_DATA (type 3: L as i32, IV, ciphertext),
  DS_CONTEXT (type 4: 4 zero bytes, eFuse key id, 1 padding byte, key bits as u16); no
  public-key entry;
* eFuses in the virtual device's file layout (352 bytes, 11 blocks of 8 LE words): KEY<id> = the
  HMAC key, KEY_PURPOSE_<id> = 7, WR_DIS of the key block and its purpose, and RD_DIS of the
  key block unless `readable` (espefuse's --no-read-protect, a development burn).

`hmac=HEX` fixes the eFuse key (32 bytes) instead of a random one, to match an eFuse file
made elsewhere (espefuse_virt_c3.bin). Writes OUT_DIR/efuse.bin and OUT_DIR/esp_secure_cert.bin (0x3000 bytes, erased 0xFF after the
entries) and prints "<n hex> <e> <spki sha256 hex>".
"""
import datetime
import hashlib
import hmac
import os
import struct
import sys
import zlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

MAX_BITS = 3072
PARTITION_LEN = 0x3000


def le(number, bits):
    return number.to_bytes(bits // 8, "little")


def tlv(kind, data):
    entry = struct.pack("<IIHH", 0xBA5EBA11, 0, kind, len(data)) + data
    entry += b"\0" * ((16 - len(data) % 16) % 16)
    return entry + struct.pack("<I", zlib.crc32(entry, 0xFFFFFFFF))


def main():
    out_dir, key_id = sys.argv[1], int(sys.argv[2])
    readable = "readable" in sys.argv[3:]
    der = "der" in sys.argv[3:]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv, pub = key.private_numbers(), key.public_key().public_numbers()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "espressif-made device")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x1234)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )

    fixed = [a[5:] for a in sys.argv[3:] if a.startswith("hmac=")]
    hmac_key = bytes.fromhex(fixed[0]) if fixed else os.urandom(32)
    iv = os.urandom(16)
    bits = 2048
    y, m = priv.d, pub.n
    rb = (1 << (2 * bits)) % m
    mprime = (-pow(m, -1, 1 << 32)) & 0xFFFFFFFF
    length = bits // 32 - 1
    md = hashlib.sha256(
        le(y, MAX_BITS) + le(m, MAX_BITS) + le(rb, MAX_BITS) + struct.pack("<II", mprime, length) + iv
    ).digest()
    plain = (
        le(y, MAX_BITS) + le(m, MAX_BITS) + le(rb, MAX_BITS) + md
        + struct.pack("<II", mprime, length) + b"\x08" * 8
    )
    aes_key = hmac.new(hmac_key, b"\xff" * 32, hashlib.sha256).digest()
    enc = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    ciphertext = enc.update(plain) + enc.finalize()

    if der:
        cert_bytes = cert.public_bytes(serialization.Encoding.DER)
    else:
        cert_bytes = cert.public_bytes(serialization.Encoding.PEM) + b"\0"
    entries = (
        tlv(1, cert_bytes)
        + tlv(3, struct.pack("<i", length) + iv + ciphertext)
        + tlv(4, struct.pack("<IBBH", 0, key_id, 0, bits))
    )
    partition = entries + b"\xff" * (PARTITION_LEN - len(entries))

    efuse = bytearray(352)
    efuse[32 * (4 + key_id):32 * (5 + key_id)] = hmac_key

    def set_bit(bit):
        efuse[bit // 8] |= 1 << (bit % 8)

    for i in range(4):
        if (7 >> i) & 1:
            set_bit(88 + 4 * key_id + i)
    set_bit(23 + key_id)  # WR_DIS.BLOCK_KEY<id>
    set_bit(8 + key_id)  # WR_DIS.KEY_PURPOSE_<id>
    if not readable:
        set_bit(32 + key_id)  # RD_DIS of KEY<id>

    with open(os.path.join(out_dir, "efuse.bin"), "wb") as f:
        f.write(efuse)
    with open(os.path.join(out_dir, "esp_secure_cert.bin"), "wb") as f:
        f.write(partition)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    print(f"{pub.n:x} {pub.e} {hashlib.sha256(spki).hexdigest()}")


main()
