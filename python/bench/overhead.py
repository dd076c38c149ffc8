"""Per-call cost of the Python package on an open connection against one `ucrypto` process per
operation (the CLI's cost), for docs/performance.md.

    python python/bench/overhead.py PORT [UCRYPTO_BIN]

PORT is `sim` (in-process) or a pty served by `ucrypto sim`. Prints the median of 7 repeats of
each measurement, in microseconds per call.
"""
import statistics
import subprocess
import sys
import timeit

import ucrypto.pycom as crypto


def per_call(stmt, number, setup=lambda: None):
    setup()
    runs = timeit.repeat(stmt, number=number, repeat=7)
    return statistics.median(runs) / number * 1e6


def main():
    port = sys.argv[1]
    cli = sys.argv[2] if len(sys.argv) > 2 else None
    crypto.use_port(port)
    crypto.getrandbits(32)  # connect before timing
    aes = crypto.AES(b"k" * 16, crypto.AES.MODE_CBC, bytes(16))
    block = bytes(16)
    print(f"port {port}")
    print(f"getrandbits(128), open connection: {per_call(lambda: crypto.getrandbits(128), 2000):8.1f} us")
    print(f"AES-CBC encrypt(16 bytes), open connection: {per_call(lambda: aes.encrypt(block), 2000):8.1f} us")
    # A serial port is opened exclusively: release it for the CLI.
    crypto.use_port(None)
    if cli:
        rand = [cli, "--port", port, "rand", "128"]
        enc = [cli, "--port", port, "aes", "encrypt", "--mode", "cbc", "--key", "6b" * 16,
               "--iv", "00" * 16, "--format", "hex"]
        print(f"ucrypto rand 128, one process: {per_call(lambda: subprocess.run(rand, capture_output=True, check=True), 50):8.1f} us")
        print(f"ucrypto aes encrypt (16 bytes), one process: {per_call(lambda: subprocess.run(enc, input=block, capture_output=True, check=True), 50):8.1f} us")


if __name__ == "__main__":
    main()
