"""Writes import_check_vectors.txt: two 2048-bit RSA keys in CRT form that pass the range checks
of a sent key but must not be burned as device keys, made from primes of Python's `cryptography`
(OpenSSL), independent of the engine. Run: python3 import_check_vectors.py > import_check_vectors.txt

- "composite p": p is the product of two primes and every CRT value is consistent (d is the
  inverse of e modulo lcm of all three primes less one), so the key signs and only a primality
  test can refuse it.
- "wrong dq": a true key whose dq is off by two: it does not sign.
"""
from math import lcm

from cryptography.hazmat.primitives.asymmetric import rsa


def hexint(x):
    return format(x, "x").rjust(2 * ((x.bit_length() + 7) // 8), "0")


def primes(bits):
    pn = rsa.generate_private_key(65537, bits).private_numbers()
    return pn.p, pn.q


def emit(name, n, e, p, q, dp, dq):
    print(f"name = {name}")
    print(f"bits = {n.bit_length()}")
    for field, value in [("n", n), ("e", e), ("p", p), ("q", q), ("dp", dp), ("dq", dq),
                         ("qinv", pow(q, -1, p))]:
        print(f"{field} = {hexint(value)}")
    print()


e = 65537
while True:
    r1, r2 = primes(1024)
    q, _ = primes(2048)
    p = r1 * r2
    n = p * q
    lam_p = lcm(r1 - 1, r2 - 1)
    lam = lcm(lam_p, q - 1)
    if n.bit_length() == 2048 and lam % e != 0:
        break
d = pow(e, -1, lam)
emit("composite p", n, e, p, q, d % lam_p, d % (q - 1))

pn = rsa.generate_private_key(e, 2048).private_numbers()
emit("wrong dq", pn.public_numbers.n, e, pn.p, pn.q, pn.dmp1, (pn.dmq1 + 2) % pn.q)
