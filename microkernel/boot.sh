#!/usr/bin/env bash
# Boots pxOS in QEMU: in a window when $DISPLAY is set, headless otherwise. The serial console
# (boot log, os output, keyboard input; Ctrl-D ends input) is this terminal; Ctrl-A X quits QEMU.
# Installs what is missing first (idempotent): qemu-system-x86 (+ qemu-system-gui for a window)
# and the x86_64-unknown-none Rust target. Extra arguments go to QEMU, e.g.
#   microkernel/boot.sh -append exit-on-stop -device isa-debug-exit,iobase=0xf4,iosize=0x04
# `--gpu` (first argument) boots with virtio-gpu-gl-pci: the kernel runs os.pxi on the host GPU
# through virgl (SDL GL display; offscreen when $DISPLAY is unset). Needs qemu-system-gui and
# Mesa GL, installed here when missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
apt_install() {
    $sudo apt-get -o DPkg::Lock::Timeout=600 update
    $sudo apt-get -o DPkg::Lock::Timeout=600 install -y "$@"
}

if ! command -v qemu-system-x86_64 >/dev/null; then
    apt_install qemu-system-x86
fi
gpu=(-device virtio-gpu-pci)
display=(-display none)
if [ "${1:-}" = "--gpu" ]; then
    shift
    for pkg in qemu-system-gui libgl1-mesa-dri libegl-mesa0; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || apt_install "$pkg"
    done
    gpu=(-device virtio-gpu-gl-pci)
    display=(-display sdl,gl=on)
    # Without a display SDL renders offscreen; virgl needs GL either way.
    [ -n "${DISPLAY:-}" ] || export SDL_VIDEODRIVER=offscreen
elif [ -n "${DISPLAY:-}" ]; then
    # `-display help` lists gtk even without the module; ask dpkg whether it is installed.
    if ! dpkg-query -W -f='${Status}' qemu-system-gui 2>/dev/null | grep -q "ok installed"; then
        apt_install qemu-system-gui
    fi
    display=(-display gtk)
fi
if ! rustup target list --installed | grep -qx x86_64-unknown-none; then
    rustup target add x86_64-unknown-none
fi

(cd "$here" && cargo build --release --bin pxos-kernel)

# TCG only: KVM hangs on these machines (docs/microkernel.md).
exec qemu-system-x86_64 -machine q35 -accel tcg -nodefaults "${display[@]}" -serial mon:stdio \
    -vga none -nic none "${gpu[@]}" \
    -kernel "$here/target/x86_64-unknown-none/release/pxos-kernel" "$@"
