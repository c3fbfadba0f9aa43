#!/usr/bin/env bash
# Size and boot-time report for the pxOS microkernel (numbers recorded in docs/benchmarks.md).
# Usage: microkernel/bench.sh [RUNS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
runs="${1:-10}"
source "$here/cargo-artifacts.sh"

kernel="$(build_executable pxos-kernel --release --bins)"
minimal="$(build_executable pxos-minimal --release --bins)"

text_size() { size -A "$1" | awk '$1 == ".text" { print $2 }'; }
symbol_size() { # sum of the sizes of symbols whose demangled name matches $2
    nm -S -t d -C "$1" | awk -v pattern="$2" '$0 ~ pattern { total += $2 } END { print total + 0 }'
}

echo "sizes (bytes):"
echo "  pxos-kernel  .text $(text_size "$kernel")"
echo "  pxos-minimal .text $(text_size "$minimal")"
echo "  dispatch core: dispatch::run $(symbol_size "$kernel" 'dispatch::run$')" \
     "+ Screen::show_counts $(symbol_size "$kernel" 'dispatch::Screen::show_counts')" \
     "(drive loop, mailbox::service and KernelHost are inlined into dispatch::run)"
echo "  slice sort used by mailbox::service: $(symbol_size "$kernel" 'sort::unstable::ipnsort')"
echo "  pxi interpreter (CpuExecutor::run_batch): $(symbol_size "$kernel" 'CpuExecutor as pxi::run::Executor>::run_batch')"
echo "  PNG decoder (zune-png + zune-inflate code): $(nm -S -t d -C "$kernel" | awk '$3 ~ /[tT]/ && /zune_/ { t += $2 } END { print t + 0 }')"

# Run from the root workspace: cargo reads .cargo/config.toml from the working directory.
cd "$here/.." && cargo run --quiet -p qemu-tests --bin boot-bench -- --runs "$runs"
