#!/usr/bin/env bash
# Fuzzes every file reader of ConvZoo with libFuzzer (not part of `make test`: it is slow).
#
#   tools/fuzz.sh [-j JOBS] [SECONDS] [HARNESS...]  # default: 600 s for each of every harness, JOBS
#                                                    # (default 1) at a time
#   tools/fuzz.sh --keep-going ...                  # fork mode: go on after a finding
#   tools/fuzz.sh --list                    # the harness names
#   tools/fuzz.sh --build                   # only build
#
# Builds Fuzz/ (the harnesses, ConvZoo with -sanitize=fuzzer,address) into Fuzz/.build, seeds each
# harness's corpus with the matching files of Tests/Fixtures, and runs it with the limits the
# project holds its readers to: no crash, no input taking over 10 s, no allocation over 2 GB
# (leak detection is off: the Swift runtime's caches and the harness's own setup read as leaks).
# Logs (libFuzzer's cov:/ft:/exec lines), the grown corpus and crashing inputs go to
# Fuzz/.build/runs/HARNESS/. A crash is minimized there (crash-*.min): fix its cause, and commit it
# under Tests/Fixtures/hostile/ with a test in HostileInputTests that runs it through `zoo` (which
# runs the binary under a time and memory limit, so a hang fails the test instead of the suite).
set -euo pipefail
cd "$(dirname "$0")/.."

harnesses=(keras-h5 keras3 keras-archive caffe npy npz jpeg png pytorch-zip pytorch-legacy safetensors)
# Fixture files (by name pattern, under 300 KB) holding the bytes HEX at OFFSET.
with_magic() {
    local offset=$1 hex=$2; shift 2
    find Tests/Fixtures "$@" -size -300k | while read -r f; do
        if [ "$(od -An -tx1 -j "$offset" -N $((${#hex} / 2)) "$f" | tr -d ' \n')" = "$hex" ]; then echo "$f"; fi
    done
}
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
        # torch.save's zip format, and its legacy pickle (and, once read, its oldest tar form).
        pytorch-zip) with_magic 0 504b0304 \( -name '*.pth' -o -name '*.pt' -o -name '*.bin' \) ;;
        pytorch-legacy)
            with_magic 0 80028a0a \( -name '*.pth' -o -name '*.pt' -o -name '*.bin' \)
            with_magic 257 7573746172 \( -name '*.pth' -o -name '*.pt' -o -name '*.tar' \) ;;
        safetensors) find Tests/Fixtures -name '*.safetensors' -size -300k ;;
    esac
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

jobs=1
keep_going=()
while :; do
    case "${1:-}" in
        -j) jobs=$2; shift 2 ;;
        # Fork mode: a finding is saved and the run goes on, so one run collects them all.
        --keep-going) keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); shift ;;
        *) break ;;
    esac
done
seconds=${1:-600}
shift || true
[ $# -gt 0 ] && harnesses=("$@")
build
binary=Fuzz/.build/release/zoo-fuzz

# Runs one harness; its summary goes to Fuzz/.build/runs/HARNESS/summary.txt and to stdout.
fuzz() {
    local h=$1 run=Fuzz/.build/runs/$1 code
    mkdir -p "$run/corpus" "$run/seeds" "$run/artifacts"
    rm -f "$run/seeds"/*
    seeds "$h" | while read -r f; do cp "$f" "$run/seeds/$(echo "$f" | tr / _)"; done
    {
    echo "== $h: $(ls "$run/seeds" | wc -l) seed files, $seconds s"
    set +e
    # SWIFT_BACKTRACE: a trap goes to libFuzzer (which saves the input), not to Swift's backtracer.
    # ASAN_OPTIONS: no leak report at exit either, which fork mode would count as a crash.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 ZOO_FUZZ_TARGET=$h ZOO_FUZZ_SCRATCH=${ZOO_FUZZ_SCRATCH:-/dev/shm} "$binary" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -detect_leaks=0 \
        -print_final_stats=1 "${keep_going[@]}" -artifact_prefix="$run/artifacts/" "$run/corpus" "$run/seeds" \
        > "$run/log.txt" 2>&1
    code=$?
    set -e
    # The first and last coverage lines (fork mode prints `#N: cov: ... time: ...` lines instead).
    grep -E '^#[0-9]+ +(INITED|DONE)' "$run/log.txt" | tail -2 || true
    grep -E '^#[0-9]+: cov:' "$run/log.txt" | sed -n '1p;$p' || true
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$run/log.txt" || true
    for crash in "$run"/artifacts/crash-* "$run"/artifacts/timeout-* "$run"/artifacts/oom-* "$run"/artifacts/leak-*; do
        [ -e "$crash" ] || continue
        case "$crash" in *.min) continue ;; esac
        echo "   finding: $crash"
        # timeout: libFuzzer's minimizer can outlive its -max_total_time.
        SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 ZOO_FUZZ_TARGET=$h timeout 300 "$binary" -minimize_crash=1 -max_total_time=60 -timeout=10 \
            -exact_artifact_path="$crash.min" "$crash" > "$crash.min.log" 2>&1 || true
    done
    if [ $code -ne 0 ]; then echo "   $h stopped with status $code (see $run/log.txt)"; fi
    } > "$run/summary.txt"
    cat "$run/summary.txt"
    return $code
}

status=0
running=0
for h in "${harnesses[@]}"; do
    if [ $running -ge "$jobs" ]; then wait -n || status=1; running=$((running - 1)); fi
    fuzz "$h" &
    running=$((running + 1))
done
while [ $running -gt 0 ]; do wait -n || status=1; running=$((running - 1)); done
exit $status
