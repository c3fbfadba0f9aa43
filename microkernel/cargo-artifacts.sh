# Sourced by boot.sh and bench.sh: build microkernel binaries and print where cargo put them.
# Asking cargo (its JSON messages) honours CARGO_TARGET_DIR, --target-dir and build.target-dir.

# build_executable NAME CARGO-BUILD-ARGS...: builds, then prints the path of executable NAME.
build_executable() {
    local name="$1"
    shift
    local path
    path="$(cd "$(dirname "${BASH_SOURCE[0]}")" \
        && cargo build "$@" --message-format=json-render-diagnostics \
        | sed -n "s|.*\"executable\":\"\([^\"]*/$name\)\".*|\1|p" | tail -n 1)"
    if [ -z "$path" ]; then
        echo "cargo did not report the $name executable" >&2
        return 1
    fi
    printf '%s\n' "$path"
}
