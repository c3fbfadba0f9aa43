#!/usr/bin/env bash
# Every test of pxOS, from a clean clone: installs what is missing (Mesa
# lavapipe, QEMU with SDL/GL, virgl_test_server, Chromium, the bare-metal Rust target), then runs format and
# lint checks, the workspace tests (CPU interpreter, GPU runtime on wgpu,
# visualizer with headless Chromium, microkernel in QEMU) and the microkernel
# build. A missing GPU adapter, QEMU or browser fails the run; nothing is skipped.
source "$(dirname "$0")/setup.sh"
pxos_apt mesa-vulkan-drivers libvulkan1 qemu-system-x86 chromium \
    qemu-system-gui virgl-server libgl1-mesa-dri libegl-mesa0 dosfstools mtools
pxos_rust clippy rustfmt target:x86_64-unknown-none
cd "$PXOS_ROOT"
step() { printf '\n== %s\n' "$*" >&2; }

step "format"
cargo fmt --all --check
(cd microkernel && cargo fmt --all --check)

step "lint"
cargo clippy --workspace --all-targets --release --quiet -- -D warnings
(cd microkernel && cargo clippy --release --quiet -- -D warnings)

step "pxi builds for bare metal (no_std)"
cargo build --release --quiet -p pxi --target x86_64-unknown-none

step "GPU adapter"
cargo run --release --quiet -p gpu-runtime --bin pxi-run -- examples/hello.pxs

step "tests"
cargo test --workspace --release --quiet --no-fail-fast

step "TGSI translation and virgl executor through virgl_test_server"
cargo test --release --quiet -p virgl --features vtest --test vtest

step "the README's run command: run-os.sh's demo session, heatmap and viewer"
"$PXOS_ROOT/scripts/run-os.sh" < /dev/null > /dev/null

step "all tests passed"
