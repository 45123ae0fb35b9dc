#!/usr/bin/env bash
# Builds every test program the way xtask does and runs each one natively on this Linux
# host against its .expect file, so anyone can confirm the expectations are simply
# Linux's behaviour.
#
#   tests/programs/check-native.sh [NAME...]      (default: every program)
#
# Each program runs in a chroot laid out like Spindle's initrd (/bin/NAME, /data/...), so
# argv[0], /data paths and the absence of /proc and /sys match what it sees on Spindle.
# The chroot needs root, or an unprivileged user namespace (`unshare -r`). A program whose
# expectation says `smp: 1 2 4` runs once per CPU count N, restricted with taskset to
# CPUs 0..N-1; counts above this host's CPUs are skipped and reported. Output (stdout
# and stderr together, as on the serial console) is compared exactly, or as a sorted
# multiset for `order: any`; `kernel:` lines are Spindle's own and are not checked here.
# Benchmarks run once per libc and must exit 0 printing only "bench NAME VALUE UNIT".
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/target/programs-native"
host_cpus=$(nproc)

die() {
    echo "check-native: $*" >&2
    exit 2
}

# --- tools --------------------------------------------------------------------------

if ! command -v musl-gcc >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y musl-tools >/dev/null || die "cannot install musl-tools"
    else
        die "musl-gcc missing: apt-get install musl-tools"
    fi
fi
command -v gcc >/dev/null || die "gcc missing"
command -v cargo >/dev/null || die "cargo missing"

if [ "$(id -u)" = 0 ]; then
    chroot_cmd=(/usr/sbin/chroot)
elif unshare -r true 2>/dev/null; then
    chroot_cmd=(unshare -r /usr/sbin/chroot)
else
    die "need root or unprivileged user namespaces for the chroot"
fi

# --- build --------------------------------------------------------------------------

rm -rf "$out"
for libc in glibc musl rust; do
    mkdir -p "$out/root-$libc/bin" "$out/root-$libc/data" "$out/bench-$libc"
    cp -r "$here/data/." "$out/root-$libc/data/"
done

build_failed=0
cc_for() {
    case $1 in
        glibc) echo "gcc -O2 -static -pthread -Wall -Wextra" ;;
        musl) echo "musl-gcc -O2 -static -Wall -Wextra" ;;
    esac
}
for src in "$here"/c/*.c; do
    name=$(basename "$src" .c)
    for libc in glibc musl; do
        # shellcheck disable=SC2046
        $(cc_for $libc) -o "$out/root-$libc/bin/$name" "$src" || {
            echo "BUILD FAIL $name ($libc)"
            build_failed=1
        }
    done
done
for src in "$here"/bench/*.c; do
    name=$(basename "$src" .c)
    for libc in glibc musl; do
        # shellcheck disable=SC2046
        $(cc_for $libc) -o "$out/bench-$libc/$name" "$src" || {
            echo "BUILD FAIL bench $name ($libc)"
            build_failed=1
        }
    done
done
rust_target="$repo/target/programs/rust"
if RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release \
    --target x86_64-unknown-linux-gnu --manifest-path "$here/rust/Cargo.toml" \
    --target-dir "$rust_target"; then
    for src in "$here"/rust/src/bin/*.rs; do
        name=$(basename "$src" .rs)
        cp "$rust_target/x86_64-unknown-linux-gnu/release/$name" "$out/root-rust/bin/$name"
    done
else
    echo "BUILD FAIL rust"
    build_failed=1
fi

# --- expectations -------------------------------------------------------------------

# Splits a cmdline-quoted argument string (words, "double quoted" with \" and \\
# escapes) into the array `words`.
split_words() {
    local s=$1 i c word="" in_word=0 quoted=0
    words=()
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if ((quoted)); then
            if [ "$c" = '\' ]; then
                i=$((i + 1))
                word+=${s:i:1}
            elif [ "$c" = '"' ]; then
                quoted=0
            else
                word+=$c
            fi
        elif [ "$c" = '"' ]; then
            quoted=1
            in_word=1
        elif [ "$c" = ' ' ] || [ "$c" = $'\t' ]; then
            if ((in_word)); then
                words+=("$word")
                word=""
                in_word=0
            fi
        else
            word+=$c
            in_word=1
        fi
    done
    if ((in_word)); then words+=("$word"); fi
}

# Reads an .expect file into exp_* variables and the expected-output file $out/expected.
read_expect() {
    local file=$1 line in_body=0
    exp_args="" exp_env=() exp_status="" exp_order=exact exp_smp=1 exp_timeout=30
    exp_libc="glibc musl"
    : >"$out/expected"
    while IFS= read -r line || [ -n "$line" ]; do
        if ((in_body)); then
            printf '%s\n' "$line" >>"$out/expected"
            continue
        fi
        case $line in
            ---) in_body=1 ;;
            args:*) exp_args=${line#args:} ;;
            env:*) exp_env+=("$(echo "${line#env:}" | sed 's/^ *//')") ;;
            status:*) exp_status=$(echo "${line#status:}" | tr -d ' ') ;;
            order:*) exp_order=$(echo "${line#order:}" | tr -d ' ') ;;
            smp:*) exp_smp=${line#smp:} ;;
            timeout:*) exp_timeout=$(echo "${line#timeout:}" | tr -d ' ') ;;
            libc:*) exp_libc=${line#libc:} ;;
            kernel:* | "") ;;
            *) echo "warning: $file: unknown header line: $line" ;;
        esac
    done <"$file"
    [ -n "$exp_status" ] || die "$file: no status line"
    ((in_body)) || die "$file: no --- line"
}

# --- run ----------------------------------------------------------------------------

wanted() {
    [ ${#filter[@]} -eq 0 ] && return 0
    local f
    for f in "${filter[@]}"; do [ "$f" = "$1" ] && return 0; done
    return 1
}

passed=0
failed=0
skipped=()
filter=("$@")

run_one() { # name libc smp
    local name=$1 libc=$2 smp=$3 rc cpus
    cpus="0-$((smp - 1))"
    split_words "$exp_args"
    # The outer 2>/dev/null hides the shell's own "Segmentation fault" notice for the
    # hostile programs; the program's stderr still goes to the output file.
    {
        env -i "${exp_env[@]}" timeout "$exp_timeout" taskset -c "$cpus" \
            "${chroot_cmd[@]}" "$out/root-$libc" "/bin/$name" "${words[@]}" \
            >"$out/actual" 2>&1
        rc=$?
    } 2>/dev/null
    local label="$name ($libc, smp $smp)"
    local ok=1
    if [ "$exp_order" = any ]; then
        sort "$out/expected" >"$out/expected.cmp"
        sort "$out/actual" >"$out/actual.cmp"
    else
        cp "$out/expected" "$out/expected.cmp"
        cp "$out/actual" "$out/actual.cmp"
    fi
    if ! cmp -s "$out/expected.cmp" "$out/actual.cmp"; then ok=0; fi
    if [ "$rc" != "$exp_status" ]; then ok=0; fi
    if ((ok)); then
        passed=$((passed + 1))
        echo "ok    $label: status $rc"
    else
        failed=$((failed + 1))
        echo "FAIL  $label: status $rc, want $exp_status"
        diff -u "$out/expected.cmp" "$out/actual.cmp" | sed 's/^/      /'
    fi
}

check_program() { # expect-file name libc...
    local file=$1 name=$2 libc smp
    shift 2
    wanted "$name" || return 0
    read_expect "$file"
    for libc in "$@"; do
        if [ "$libc" != rust ] && [[ " $exp_libc " != *" $libc "* ]]; then continue; fi
        if [ ! -x "$out/root-$libc/bin/$name" ]; then
            failed=$((failed + 1))
            echo "FAIL  $name ($libc): not built"
            continue
        fi
        for smp in $exp_smp; do
            if ((smp > host_cpus)); then
                skipped+=("$name ($libc, smp $smp)")
                continue
            fi
            run_one "$name" "$libc" "$smp"
        done
    done
}

for src in "$here"/c/*.c; do
    name=$(basename "$src" .c)
    if [ ! -f "$here/$name.expect" ]; then
        wanted "$name" && { failed=$((failed + 1)); echo "FAIL  $name: no $name.expect"; }
        continue
    fi
    check_program "$here/$name.expect" "$name" glibc musl
done
for src in "$here"/rust/src/bin/*.rs; do
    name=$(basename "$src" .rs)
    if [ ! -f "$here/rust/$name.expect" ]; then
        wanted "$name" && { failed=$((failed + 1)); echo "FAIL  rust $name: no expect"; }
        continue
    fi
    check_program "$here/rust/$name.expect" "$name" rust
done

for src in "$here"/bench/*.c; do
    name=$(basename "$src" .c)
    wanted "$name" || continue
    for libc in glibc musl; do
        bin="$out/bench-$libc/$name"
        timeout 60 "$bin" >"$out/actual" 2>&1
        rc=$?
        if [ "$rc" = 0 ] && ! grep -qvE '^bench [a-z0-9-]+ [0-9]+(\.[0-9]+)? [a-z/]+$' \
            "$out/actual"; then
            passed=$((passed + 1))
            echo "ok    bench $name ($libc): $(tr '\n' ';' <"$out/actual")"
        else
            failed=$((failed + 1))
            echo "FAIL  bench $name ($libc): status $rc"
            sed 's/^/      /' "$out/actual"
        fi
    done
done

echo
for s in "${skipped[@]+"${skipped[@]}"}"; do echo "skipped (host has $host_cpus CPUs): $s"; done
echo "check-native: $passed passed, $failed failed, ${#skipped[@]} skipped"
[ "$failed" = 0 ] && [ "$build_failed" = 0 ]
