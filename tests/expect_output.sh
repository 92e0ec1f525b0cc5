#!/usr/bin/env bash
# Runs a command and passes only if it exits with 0 AND its output (stdout and stderr)
# matches an extended regular expression: ctest's PASS_REGULAR_EXPRESSION alone ignores the
# exit status, so a crash after the expected line would pass.
#   expect_output.sh REGEX COMMAND [ARGS...]
set -uo pipefail
if [ $# -lt 2 ]; then
  echo "usage: expect_output.sh REGEX COMMAND [ARGS...]" >&2
  exit 2
fi
regex="$1"
shift
output="$("$@" 2>&1)"
status=$?
printf '%s\n' "$output"
if [ "$status" -ne 0 ]; then
  echo "expect_output: $1 exited with $status" >&2
  exit 1
fi
if ! grep -Eq -- "$regex" <<<"$output"; then
  echo "expect_output: no line of the output matches: $regex" >&2
  exit 1
fi
