#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer harnesses of Fuzz/ in .build-fuzz (AddressSanitizer and
# coverage on every target, the SISync library included) and runs each for FUZZ_SECONDS.
# Exits non-zero when any harness has a finding (a crash, a foreign error type, a broken
# invariant, a hang past FUZZ_TIMEOUT or memory past the limits); the input is saved in
# .build-fuzz/findings/NAME/. See Fuzz/README.md.
#
#   FUZZ_SECONDS=20     seconds per harness
#   FUZZ_TARGETS="csv zip"  a subset (default: all, in the order below)
#   FUZZ_TIMEOUT=10     seconds one input may take
#   FUZZ_ARGS=...       more libFuzzer flags (-use_value_profile=1, -jobs=2 ...)
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFT=${SWIFT:-swift}
SECONDS_EACH=${FUZZ_SECONDS:-20}
TIMEOUT=${FUZZ_TIMEOUT:-10}
SCRATCH=.build-fuzz
# name, product, -max_len
HARNESSES="
csv            FuzzCSV           32768
json           FuzzJSON          65536
config         FuzzConfig        16384
zip            FuzzZip           65536
oneroster-csv  FuzzOneRosterCSV  32768
oneroster-api  FuzzOneRosterAPI  32768
access-code    FuzzAccessCode    256
letter-template FuzzLetterTemplate 4096
source-url     FuzzSourceURL     1024
api-request    FuzzAPIRequest    65536
http-request   FuzzHTTPRequest   4096
scim           FuzzSCIM          16384
metrics-file   FuzzMetricsFile   8192
user-import    FuzzUserImport    32768
"
TARGETS=${FUZZ_TARGETS:-$(echo "$HARNESSES" | awk 'NF { printf "%s ", $1 }')}

# libFuzzer without its main(), from the toolchain that runs `swift`.
toolchain=$(dirname "$(readlink -f "$(command -v "$SWIFT")")")/..
runtime=$(ls "$toolchain"/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-"$(uname -m)".a 2>/dev/null | head -1 || true)
if [ -z "$runtime" ]; then
  echo "make fuzz: libclang_rt.fuzzer_no_main-$(uname -m).a is not in $toolchain/lib/clang/*/lib/linux (a Swift toolchain for Linux ships it)" >&2
  exit 1
fi

# SwiftPM keeps the parent package's list of source files in $SCRATCH and, for this path
# dependency, does not look again: a file added under Sources/ since the last `make fuzz`
# was "not in scope" until the manifest changed. Its modification time makes it look again.
touch Fuzz/Package.swift
echo "make fuzz: building the harnesses in $SCRATCH (release, address sanitizer, coverage)"
start=$(date +%s)
set +e
"$SWIFT" build -c release --package-path Fuzz --scratch-path "$SCRATCH" \
  -Xswiftc -enable-testing -Xswiftc -sanitize=address \
  -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
  -Xlinker "$runtime" -Xlinker -lstdc++ 2>&1 | grep -v "Cannot export local symbol '__asan"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || { echo "make fuzz: the build failed" >&2; exit "$rc"; }
echo "make fuzz: built in $(( $(date +%s) - start )) s"

# Seeds from the repository's own files (copied fresh each time); Fuzz/seeds/NAME holds the
# hand-made ones. New inputs the fuzzer finds go to $SCRATCH/corpus/NAME and are kept.
seed() { # name, files...
  local dir=$SCRATCH/seeds/$1; shift
  rm -rf "$dir"; mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && head -n 40 "$f" > "$dir/$(basename "$(dirname "$f")")-$(basename "$f")"; done
  return 0
}
seed csv config/demo/*.csv
seed json
seed config config/*.conf
seed zip
seed oneroster-csv config/demo-oneroster/*.csv
(cd config/demo-oneroster && head -n 40 -- *.csv) > "$SCRATCH/seeds/oneroster-csv/demo-bundle.txt"
seed oneroster-api
seed access-code
seed letter-template
seed source-url
seed api-request
seed http-request
seed scim
seed metrics-file
seed user-import config/demo/users.csv

# Crashes are reported by AddressSanitizer and libFuzzer; the Swift runtime's own backtracer
# would race them (and can hang under ASan).
export SWIFT_BACKTRACE=enable=no
failed=()
summary=()
mkdir -p "$SCRATCH/logs" "$SCRATCH/tmp"
for name in $TARGETS; do
  line=$(echo "$HARNESSES" | awk -v n="$name" '$1 == n')
  [ -n "$line" ] || { echo "make fuzz: no harness named $name" >&2; exit 64; }
  read -r _ product maxlen <<< "$line"
  mkdir -p "$SCRATCH/corpus/$name" "$SCRATCH/findings/$name"
  log=$SCRATCH/logs/$name.log
  dict=()
  [ -f "Fuzz/dict/$name.dict" ] && dict=(-dict="Fuzz/dict/$name.dict")
  echo "make fuzz: $product for ${SECONDS_EACH}s (log: $log)"
  set +e
  # shellcheck disable=SC2086
  SISYNC_FUZZ_TMP=$SCRATCH/tmp timeout --kill-after=30 $(( SECONDS_EACH * 2 + 300 )) \
    "$SCRATCH/release/$product" -max_total_time="$SECONDS_EACH" -max_len="$maxlen" -timeout="$TIMEOUT" \
    -rss_limit_mb=2048 -malloc_limit_mb=512 "${dict[@]}" -print_final_stats=1 \
    -artifact_prefix="$SCRATCH/findings/$name/" ${FUZZ_ARGS:-} \
    "$SCRATCH/corpus/$name" "$SCRATCH/seeds/$name" "Fuzz/seeds/$name" > "$log" 2>&1
  rc=$?
  set -e
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<< "$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<< "$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<< "$last")
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -1)
  if [ "$rc" = 0 ]; then
    verdict="no findings"
  else
    failed+=("$name")
    verdict="FINDING (exit $rc): $(grep -hoE '(==FINDING==|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY: [A-Za-z]+|Fatal error|Test unit written to).*' "$log" | head -3 | tr '\n' ' ')"
    echo "---- last lines of $log ----"
    grep -v "Cannot export local symbol" "$log" | tail -40
    echo "----"
  fi
  summary+=("$(printf '%-14s %9s execs %6s/s  cov %5s  ft %6s  corpus %-12s %s' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$verdict")")
done

echo "make fuzz: ${SECONDS_EACH}s per harness"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "make fuzz: findings in: ${failed[*]}; inputs are in $SCRATCH/findings/NAME/ (replay one with $SCRATCH/release/PRODUCT FILE)" >&2
  exit 1
fi
echo "make fuzz: no findings"
