#!/usr/bin/env bash
# CI: builds the Python package with maturin into a virtual environment and runs its pytest suite
# (against the virtual device in-process and over `ucrypto sim` on a pty). Reuses the workspace's
# target dir, so after `cargo test` only the extension links. Called by .ci/run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${UCRYPTO_VENV:-$root/target/python-venv}"

if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    'maturin>=1.9,<2' pytest cryptography esp-secure-cert-tool
# The tests run the CLI too (`ucrypto sim` on a pty, the per-process comparison).
cargo build --quiet --locked -p ucrypto --bin ucrypto
(cd "$root/python" && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" \
    maturin develop --quiet --locked)

# pytest's exit code 5 means no tests were collected: a broken suite, not a pass.
set +e
UCRYPTO_BIN="$root/target/debug/ucrypto" "$venv/bin/python" -m pytest -q "$root/python/tests" "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
exit $status
