#!/usr/bin/env bash
# Fuzzes every file reader of ConvZoo with libFuzzer (not part of `make test`: it is slow).
#
#   tools/fuzz.sh [SECONDS] [HARNESS...]    # default: 600 s for each of every harness, one after another
#   tools/fuzz.sh --list                    # the harness names
#   tools/fuzz.sh --build                   # only build
#
# Builds Fuzz/ (the harnesses, ConvZoo with -sanitize=fuzzer,address) into Fuzz/.build, seeds each
# harness's corpus with the matching files of Tests/Fixtures, and runs it with the limits the
# project holds its readers to: no crash, no input taking over 10 s, no allocation over 2 GB
# (leak detection is off: the Swift runtime's caches and the harness's own setup read as leaks).
# Logs (libFuzzer's cov:/ft:/exec lines), the grown corpus and crashing inputs go to
# Fuzz/.build/runs/HARNESS/. A crash is minimized there (crash-*.min); commit it under
# Tests/Fixtures/fuzz/HARNESS/ so that FuzzRegressionTests feeds it to the reader in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

harnesses=(keras-h5 keras3 keras-archive caffe npy npz jpeg png)
# The fixture files each harness starts from.
seeds() {
    case "$1" in
        # Files under 300 KB: larger ones add no structure, only slower mutations.
        keras-h5) find Tests/Fixtures -name '*.h5' ! -name '*.weights.h5' -size -300k ;;
        keras3) find Tests/Fixtures -name '*.weights.h5' -size -300k ;;
        keras-archive) find Tests/Fixtures -name '*.keras' ;;
        caffe) find Tests/Fixtures -name '*.caffemodel' -size -300k ;;
        npy) find Tests/Fixtures -name '*.npy' -size -64k ;;
        npz) find Tests/Fixtures -name '*.npz' ;;
        jpeg) find Tests/Fixtures -name '*.jpg' -o -name '*.jpeg' ;;
        png) find Tests/Fixtures -name '*.png' ;;
    esac
    [ -d "Tests/Fixtures/fuzz/$1" ] && find "Tests/Fixtures/fuzz/$1" -type f
    return 0
}

case "${1:-}" in
    --list) printf '%s\n' "${harnesses[@]}"; exit 0 ;;
esac

build() {
    # lld: gold fails with an internal error on the sanitized link.
    (cd Fuzz && swift build -c release -Xswiftc -sanitize=fuzzer,address \
        -Xcc -fsanitize=fuzzer-no-link,address -Xswiftc -use-ld=lld)
}
if [ "${1:-}" = "--build" ]; then build; exit 0; fi

seconds=${1:-600}
shift || true
[ $# -gt 0 ] && harnesses=("$@")
build
binary=Fuzz/.build/release/zoo-fuzz

status=0
for h in "${harnesses[@]}"; do
    run=Fuzz/.build/runs/$h
    mkdir -p "$run/corpus" "$run/seeds" "$run/artifacts"
    rm -f "$run/seeds"/*
    seeds "$h" | while read -r f; do cp "$f" "$run/seeds/$(echo "$f" | tr / _)"; done
    echo "== $h: $(ls "$run/seeds" | wc -l) seed files, $seconds s"
    set +e
    # SWIFT_BACKTRACE: a trap goes to libFuzzer (which saves the input), not to Swift's backtracer.
    SWIFT_BACKTRACE=enable=no ZOO_FUZZ_TARGET=$h ZOO_FUZZ_SCRATCH=${ZOO_FUZZ_SCRATCH:-/dev/shm} "$binary" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -detect_leaks=0 \
        -print_final_stats=1 -artifact_prefix="$run/artifacts/" "$run/corpus" "$run/seeds" \
        > "$run/log.txt" 2>&1
    code=$?
    set -e
    grep -E '^#[0-9]+ +(INITED|DONE)' "$run/log.txt" | tail -2 || true
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$run/log.txt" || true
    for crash in "$run"/artifacts/crash-* "$run"/artifacts/timeout-* "$run"/artifacts/oom-* "$run"/artifacts/leak-*; do
        [ -e "$crash" ] || continue
        case "$crash" in *.min) continue ;; esac
        echo "   finding: $crash"
        # timeout: libFuzzer's minimizer can outlive its -max_total_time.
        SWIFT_BACKTRACE=enable=no ZOO_FUZZ_TARGET=$h timeout 300 "$binary" -minimize_crash=1 -max_total_time=60 -timeout=10 \
            -exact_artifact_path="$crash.min" "$crash" > "$crash.min.log" 2>&1 || true
    done
    [ $code -ne 0 ] && { echo "   $h stopped with status $code (see $run/log.txt)"; status=1; }
done
exit $status
