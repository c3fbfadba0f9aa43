#!/usr/bin/env bash
# The main job: assemble examples/os.pxs, run it on the GPU (wgpu; Mesa
# lavapipe when there is no GPU), show its output, and write a heatmap and an
# HTML viewer of the run to out/.
#
# On a terminal the pxOS shell is interactive (type `help`; Ctrl-D ends the
# session). Otherwise it reads commands from stdin, or runs a short demo
# session when stdin is empty. Extra arguments go to pxi-run (e.g. --cpu).
source "$(dirname "$0")/setup.sh"
pxos_apt mesa-vulkan-drivers libvulkan1
pxos_rust
cd "$PXOS_ROOT"
cargo build --release --quiet -p pxi-asm -p gpu-runtime -p visualizer
bin="$PXOS_ROOT/target/release"
mkdir -p out
"$bin/pxi-asm" assemble examples/os.pxs -o out/os.pxi
run() { "$bin/pxi-run" out/os.pxi --counts out/os.counts --snapshot-rounds 64 "$@"; }
status=0
if [ -t 0 ]; then
    run "$@" || status=$?
else
    input="$(cat)"
    if [ -z "$input" ]; then input="$(cat examples/os-demo.txt)"; fi
    printf '%s\n' "$input" | run "$@" || status=$?
fi
"$bin/pxi-viz" heatmap out/os.pxi out/os.counts -o out/os-heatmap.png --side-by-side
"$bin/pxi-viz" html out/os.pxi out/os.counts -o out/os-view.html
"$bin/pxi-viz" hotspots out/os.pxi out/os.counts --top 5
echo "run-os: heatmap out/os-heatmap.png, viewer out/os-view.html (exit status $status)" >&2
exit "$status"
