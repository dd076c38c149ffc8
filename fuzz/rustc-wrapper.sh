#!/bin/sh
# Cargo runs every rustc of the fuzz build through this script (fuzz/.cargo/config.toml).
#
# `cargo fuzz` traces the comparisons of every crate (`-sanitizer-coverage-trace-compares`).
# In the big-number crates under the virtual device's RSA and the host's RS256 check, which
# are not ours and whose comparisons guide no input, that tracing took about three quarters of
# `engine_session`'s time. Cargo cannot take a flag away from one package (profile rustflags
# come before RUSTFLAGS, and the later flag wins), so this drops it for those crates only; they
# keep their edge counters, and every other crate keeps everything.
rustc="$1"
shift
case " $* " in
*" --crate-name num_bigint "* | *" --crate-name num_bigint_dig "*)
    for arg in "$@"; do
        shift
        [ "$arg" = "-Cllvm-args=-sanitizer-coverage-trace-compares" ] || set -- "$@" "$arg"
    done
    ;;
esac
exec "$rustc" "$@"
