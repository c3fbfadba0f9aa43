#!/usr/bin/env bash
# Boots pxOS in QEMU: in a window when $DISPLAY is set, headless otherwise. The serial console
# (boot log, os output, keyboard input; Ctrl-D ends input) is this terminal; Ctrl-A X quits QEMU.
# Installs what is missing first (idempotent): qemu-system-x86 (+ qemu-system-gui for a window)
# and the x86_64-unknown-none Rust target, then builds the kernel (wherever CARGO_TARGET_DIR or
# cargo's configuration puts it) and boots it with qemu-run.sh. Extra arguments go to QEMU, e.g.
#   microkernel/boot.sh -append exit-on-stop -device isa-debug-exit,iobase=0xf4,iosize=0x04
# `cargo run --release` in microkernel/ does the same without installing anything.
# `--gpu` (first argument) boots with virtio-gpu-gl-pci: the kernel runs os.pxi on the host GPU
# through virgl (SDL GL display; offscreen when $DISPLAY is unset). It needs qemu-system-gui and
# Mesa GL, installed here when missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/cargo-artifacts.sh"

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
apt_install() {
    $sudo apt-get -o DPkg::Lock::Timeout=600 update
    $sudo apt-get -o DPkg::Lock::Timeout=600 install -y "$@"
}

if ! command -v qemu-system-x86_64 >/dev/null; then
    apt_install qemu-system-x86
fi
if [ -n "${DISPLAY:-}" ] \
    && ! dpkg-query -W -f='${Status}' qemu-system-gui 2>/dev/null | grep -q "ok installed"; then
    apt_install qemu-system-gui
fi
if [ "${1:-}" = "--gpu" ]; then
    for pkg in qemu-system-gui libgl1-mesa-dri libegl-mesa0; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || apt_install "$pkg"
    done
fi
if ! rustup target list --installed | grep -qx x86_64-unknown-none; then
    rustup target add x86_64-unknown-none
fi

kernel="$(build_executable pxos-kernel --release --bin pxos-kernel)"
exec "$here/qemu-run.sh" "$kernel" "$@"
