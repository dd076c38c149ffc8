"""Writes rs256_vectors.txt: RSA keys in CRT form and their RS256 signatures, made by Python's
`cryptography` (OpenSSL), independent of the engine. Run: python3 rs256_vectors.py > rs256_vectors.txt
"""
import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def hexint(x):
    return format(x, "x").rjust(2 * ((x.bit_length() + 7) // 8), "0")


def emit(name, key, message, swap=False):
    pn = key.private_numbers()
    p, q = (pn.q, pn.p) if swap else (pn.p, pn.q)
    dp, dq = (pn.dmq1, pn.dmp1) if swap else (pn.dmp1, pn.dmq1)
    n, e = pn.public_numbers.n, pn.public_numbers.e
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    print(f"name = {name}")
    print(f"bits = {n.bit_length()}")
    for field, value in [("n", n), ("e", e), ("p", p), ("q", q), ("dp", dp), ("dq", dq),
                         ("qinv", pow(q, -1, p))]:
        print(f"{field} = {hexint(value)}")
    print(f"digest = {hashlib.sha256(message).hexdigest()}")
    print(f"signature = {signature.hex()}")
    k = (n.bit_length() + 31) // 32
    print(f"n_m_prime = {(-pow(n, -1, 2**32)) % 2**32:08x}")
    print(f"n_r_squared = {hexint(pow(2, 64 * k, n))}")
    print()


emit("2048", rsa.generate_private_key(65537, 2048), b"")
emit("2048 p < q", rsa.generate_private_key(65537, 2048), b"\x00nul\x00", swap=True)
emit("3072 e=3", rsa.generate_private_key(3, 3072), b"abc")
emit("4096", rsa.generate_private_key(65537, 4096), b"The quick brown fox")
emit("1056", rsa.generate_private_key(65537, 1056), b"odd word count")
emit("2047", rsa.generate_private_key(65537, 2047), b"two halves of unequal length")
