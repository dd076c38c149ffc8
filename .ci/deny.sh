#!/usr/bin/env bash
# CI: the dependency policy (deny.toml) over both lock files, the host workspace and the chip
# firmware: licenses, bans and sources (crates.io only: the chip's graph names crates for other
# chips that cargo may have to download). The advisory check needs the RustSec database from
# GitHub, which CI here cannot reach: it is skipped, loudly, unless UCRYPTO_DENY_ADVISORIES=1.
# Installs cargo-deny when it is missing. Called by .ci/run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! cargo deny --version >/dev/null 2>&1; then
    echo "cargo-deny not found: installing it from crates.io (several minutes, once)" >&2
    (cd "${TMPDIR:-/tmp}" && cargo install cargo-deny --locked)
fi

checks=(licenses bans sources)
if [[ "${UCRYPTO_DENY_ADVISORIES:-0}" == 1 ]]; then
    checks+=(advisories)
fi
for manifest in Cargo.toml firmware/chip/Cargo.toml; do
    echo "== cargo deny ($manifest): ${checks[*]}" >&2
    cargo deny --manifest-path "$manifest" --config deny.toml --locked check "${checks[@]}"
done
if [[ "${UCRYPTO_DENY_ADVISORIES:-0}" != 1 ]]; then
    echo "######################################################################"
    echo "SKIPPED: cargo deny advisories (the RustSec database is out of reach;"
    echo "         run with UCRYPTO_DENY_ADVISORIES=1 where GitHub is reachable)"
    echo "######################################################################"
fi
