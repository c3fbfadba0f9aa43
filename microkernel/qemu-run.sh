#!/usr/bin/env bash
# Boots a pxOS kernel ELF in QEMU: `qemu-run.sh KERNEL [--gpu] [QEMU ARGS...]`. It is the cargo runner
# of the microkernel (`cargo run --release` in microkernel/, see .cargo/config.toml), and
# boot.sh ends here too. In a window when $DISPLAY is set and QEMU's GTK module is installed,
# headless otherwise. The serial console (boot log, os output, keyboard input; Ctrl-D ends input)
# is this terminal; Ctrl-A X quits QEMU. Extra arguments go to QEMU, e.g.
#   -append exit-on-stop -device isa-debug-exit,iobase=0xf4,iosize=0x04
# `--gpu` uses virtio-gpu-gl-pci with an SDL GL display (offscreen without $DISPLAY): the kernel
# then runs os.pxi on the host GPU through virgl (docs/virgl.md).
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 KERNEL [QEMU ARGS...]" >&2
    exit 2
fi
kernel="$1"
shift
if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "qemu-run.sh: qemu-system-x86_64 is not installed; microkernel/boot.sh installs it" \
         "(or: apt-get install qemu-system-x86)" >&2
    exit 1
fi
gpu=(-device virtio-gpu-pci)
display=(-display none)
if [ "${1:-}" = "--gpu" ]; then
    shift
    gpu=(-device virtio-gpu-gl-pci)
    display=(-display sdl,gl=on)
    # virgl needs GL even without a screen: SDL then renders offscreen.
    [ -n "${DISPLAY:-}" ] || export SDL_VIDEODRIVER=offscreen
# `-display help` lists gtk even without the module; ask dpkg whether it is installed.
elif [ -n "${DISPLAY:-}" ] \
    && dpkg-query -W -f='${Status}' qemu-system-gui 2>/dev/null | grep -q "ok installed"; then
    display=(-display gtk)
fi
# TCG only: KVM hangs on these machines (docs/microkernel.md).
exec qemu-system-x86_64 -machine q35 -accel tcg -nodefaults "${display[@]}" -serial mon:stdio \
    -vga none -nic none "${gpu[@]}" -kernel "$kernel" "$@"
