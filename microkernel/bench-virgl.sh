#!/usr/bin/env bash
# Instructions per second on metal (QEMU TCG): the benchmark programs of `pxi-run bench` run by
# the microkernel on the virgl executor (virtio-gpu-gl-pci: the host GPU, llvmpipe here) and on
# the in-guest CPU interpreter (virtio-gpu-pci, no 3D), plus the kernel's virgl submit -> fence
# round trip. Numbers go to docs/benchmarks.md.
# Usage: microkernel/bench-virgl.sh   (needs qemu-system-gui, Mesa GL; scripts/test.sh installs them)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$work}"

(cd "$here/.." && cargo run --release --quiet -p virgl --features vtest --example bench -- --emit "$work" >/dev/null)

boot() { # boot KERNEL DEVICE DISPLAY -> serial log on stdout
    SDL_VIDEODRIVER=offscreen timeout 900 qemu-system-x86_64 -machine q35 -accel tcg -nodefaults \
        -display "$3" -serial stdio -vga none -nic none -device "$2" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$1" -append exit-on-stop \
        </dev/null 2>/dev/null || true
}

echo "| program | executor | steps | rounds | ms | Minstr/s |"
echo "|---|---|---|---|---|---|"
for image in "$work"/*.pxi; do
    (cd "$here" && PXOS_IMAGE="$image" cargo build --release --quiet --bin pxos-kernel)
    kernel="$work/kernel"
    cp "$here/target/x86_64-unknown-none/release/pxos-kernel" "$kernel"
    for mode in cpu virgl; do
        if [ "$mode" = cpu ]; then log="$(boot "$kernel" virtio-gpu-pci none)"
        else log="$(boot "$kernel" virtio-gpu-gl-pci sdl,gl=on)"; fi
        grep -q "running os.pxi on the host GPU" <<<"$log" && ran=virgl || ran=cpu
        [ "$ran" = "$mode" ] || { echo "$(basename "$image"): expected $mode, ran $ran" >&2; echo "$log" >&2; exit 1; }
        # "dispatch: stopped (Halted(0)) after R rounds, S steps, B batches, T ms"
        line="$(grep "dispatch: stopped" <<<"$log")"
        read -r rounds steps ms < <(sed -E 's/.* after ([0-9]+) rounds, ([0-9]+) steps, [0-9]+ batches, ([0-9]+) ms.*/\1 \2 \3/' <<<"$line")
        mips="$(awk -v s="$steps" -v t="$ms" 'BEGIN { printf "%.2f", t > 0 ? s / t / 1000 : 0 }')"
        echo "| $(basename "$image" .pxi) | $mode | $steps | $rounds | $ms | $mips |"
        [ "$mode" = virgl ] && grep "round trip" <<<"$log" | sed 's/^/    /' >&2
    done
done
