# Sourced by the demos: bed_up DIR starts the test bed (target/debug/testbed; TESTBED_* in the
# environment choose what it starts) in the background, sets testbed_pid, waits up to two
# minutes for DIR/env and sources it. A bed that exits or never writes its env fails the demo
# with its log.
bed_up() {
  local dir=$1
  rm -f "$dir/env"
  target/debug/testbed up --dir "$dir" > "$dir/testbed.log" 2>&1 &
  testbed_pid=$!
  for _ in $(seq 1 1200); do
    [ -f "$dir/env" ] && break
    kill -0 "$testbed_pid" 2>/dev/null || { cat "$dir/testbed.log"; exit 1; }
    sleep 0.1
  done
  [ -f "$dir/env" ] || { echo "the test bed did not come up; see $dir/testbed.log"; exit 1; }
  # shellcheck disable=SC1091
  source "$dir/env"
}
