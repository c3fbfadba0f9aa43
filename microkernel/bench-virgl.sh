#!/usr/bin/env bash
# Instructions per second on metal (QEMU TCG): examples/os.pxi (a short shell session) and the
# benchmark programs of `pxi-run bench` run by
# the microkernel on the virgl executor (virtio-gpu-gl-pci: the host GPU, llvmpipe here) and on
# the in-guest CPU interpreter (virtio-gpu-pci, no 3D), plus the kernel's virgl submit -> fence
# round trip. Numbers go to docs/benchmarks.md.
# Usage: microkernel/bench-virgl.sh   (needs qemu-system-gui, Mesa GL; scripts/test.sh installs them)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/cargo-artifacts.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$work}"

(cd "$here/.." && cargo run --release --quiet -p virgl --features vtest --example bench -- --emit "$work" >/dev/null)
cp "$here/../examples/os.pxi" "$work/os.pxi"
# The os reads a short session from the console (all typed at once), then Ctrl-D halts it.
os_session='run primes 300\nrun preempt\nrun ipctest\nrun pingpong\n\x04'

# The guest's PIT clock misses ticks while QEMU runs virgl work in the vCPU thread, so the
# kernel's own "ms" undercounts GPU runs: time each serial line on the host instead.
stamp() { while IFS= read -r line; do printf '%s %s\n' "$(date +%s%N)" "$line"; done; }
boot() { # boot KERNEL DEVICE DISPLAY -> host-timestamped serial log on stdout
    { SDL_VIDEODRIVER=offscreen timeout 900 qemu-system-x86_64 -machine q35 -accel tcg -nodefaults \
        -display "$3" -serial stdio -vga none -nic none -device "$2" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$1" -append exit-on-stop \
        2>/dev/null || true; } | stamp
}
# Host nanoseconds of the first line matching $1 in the log $2.
at() { grep -m1 "$1" <<<"$2" | cut -d' ' -f1; }

echo "| program | executor | steps | rounds | wall ms (host) | Minstr/s |"
echo "|---|---|---|---|---|---|"
for image in "$work"/*.pxi; do
    kernel="$work/kernel"
    cp "$(PXOS_IMAGE="$image" build_executable pxos-kernel --release --quiet --bin pxos-kernel)" "$kernel"
    for mode in cpu virgl; do
        input=""
        [ "$(basename "$image")" = os.pxi ] && input="$os_session"
        if [ "$mode" = cpu ]; then log="$(printf "$input" | boot "$kernel" virtio-gpu-pci none)"
        else log="$(printf "$input" | boot "$kernel" virtio-gpu-gl-pci sdl,gl=on)"; fi
        grep -q "running os.pxi on the host GPU" <<<"$log" && ran=virgl || ran=cpu
        [ "$ran" = "$mode" ] || { echo "$(basename "$image"): expected $mode, ran $ran" >&2; echo "$log" >&2; exit 1; }
        # "dispatch: stopped (Halted(0)) after R rounds, S steps, B batches, T ms"
        line="$(grep "dispatch: stopped" <<<"$log")"
        read -r rounds steps < <(sed -E 's/.* after ([0-9]+) rounds, ([0-9]+) steps.*/\1 \2/' <<<"$line")
        # From the line right before the first round to the stop line.
        start="$(at "dispatch: running os.pxi" "$log")"
        stop="$(at "dispatch: stopped" "$log")"
        ms="$(awk -v a="$start" -v b="$stop" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')"
        mips="$(awk -v s="$steps" -v t="$ms" 'BEGIN { printf "%.2f", (t > 0) ? s / t / 1000 : 0 }')"
        echo "| $(basename "$image" .pxi) | $mode | $steps | $rounds | $ms | $mips |"
        if [ "$mode" = virgl ]; then
            # 100 empty fenced submissions, timed on the host between the two lines around them.
            first="$(at "timing 100 empty fenced submissions" "$log")"
            last="$(at "round trip" "$log")"
            echo "    $(basename "$image" .pxi): submit -> fence round trip $(( (last - first) / 100000 )) us (host clock, mean of 100)" >&2
        fi
    done
done
