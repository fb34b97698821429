# testlib.sh — tiny helpers shared by the Windows test scripts (sourced, not run).
# Each check prints exactly one line, "ok   NAME" or "FAIL NAME" (plus indented detail lines on
# failure); `summary` prints "N passed, M failed" and returns non-zero when anything failed.
# It must not exit on a failed check: every check runs, the summary decides.
# shellcheck shell=bash

T_PASSED=0
T_FAILED=0

# pass NAME / fail NAME [DETAIL...]
pass() { T_PASSED=$((T_PASSED + 1)); printf 'ok   %s\n' "$1"; }
fail() {
  T_FAILED=$((T_FAILED + 1)); printf 'FAIL %s\n' "$1"; shift
  local d; for d in "$@"; do printf '%s\n' "$d" | sed 's/^/       /' | head -n 40; done
}

# check NAME COMMAND...: ok when COMMAND exits 0 (its output is shown only on failure).
check() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "exit $?: $*" "$out"; fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}

# expect_match NAME EXTENDED_REGEX TEXT: ok when some line of TEXT matches.
expect_match() {
  if grep -qE -- "$2" <<<"$3"; then pass "$1"; else fail "$1" "no line matches: $2" "in: $3"; fi
}

# expect_no_match NAME EXTENDED_REGEX TEXT
expect_no_match() {
  if grep -qE -- "$2" <<<"$3"; then fail "$1" "unexpected line matching: $2" "in: $3"; else pass "$1"; fi
}

summary() {
  echo "$T_PASSED passed, $T_FAILED failed"
  [ "$T_FAILED" -eq 0 ]
}
