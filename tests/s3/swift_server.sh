#!/usr/bin/env bash
# Starts a one-node OpenStack Swift with its S3 API (s3api + tempauth) on
# loopback, for the S3 tests: one replica, no memcached, every server in one
# process of its own (workers = 0). Debian's python3 runs it: the swift
# package lives there, whatever python3 comes first in PATH.
#
#   tests/s3/swift_server.sh start DIR PORT    # prints "ready" when it answers
#   tests/s3/swift_server.sh stop DIR
#   tests/s3/swift_server.sh kill-proxy DIR    # SIGKILL the S3 front end only (data stays)
#   tests/s3/swift_server.sh start-proxy DIR PORT
#
# S3 credentials: access key "test:tester", secret "testing"; region us-east-1.
set -euo pipefail
cmd=$1 dir=$2
start_server() {  # start_server NAME
  # Swift reads swift.conf from a fixed /etc path; point it at ours before
  # any other Swift module takes a copy of that path.
  /usr/bin/python3 -c "
import sys
import swift.common.utils as utils
utils.SWIFT_CONF_FILE = '$dir/swift.conf'
from swift.common.wsgi import run_wsgi
sys.exit(run_wsgi('$dir/$1-server.conf', '$1-server', verbose=True))
" >>"$dir/log/$1" 2>&1 &
  echo $! >>"$dir/pids"
  echo $! >"$dir/$1.pid"
}
answers() { [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null) != 000 ]]; }
wait_for() {  # wait_for PORT...: until every one answers HTTP (any status)
  for _ in $(seq 300); do
    local all=1
    for p in "$@"; do answers "$p" || { all=0; break; }; done
    if ((all)); then echo ready; return 0; fi
    sleep 0.1
  done
  echo "swift did not start; logs in $dir/log" >&2
  for f in "$dir"/log/*; do echo "== $f" >&2; tail -n 20 "$f" >&2; done
  return 1
}

case $cmd in
  stop)
    [[ -f $dir/pids ]] && xargs -r kill <"$dir/pids" 2>/dev/null || true
    rm -f "$dir/pids"
    exit 0 ;;
  kill-proxy)
    kill -9 "$(cat "$dir/proxy.pid")" 2>/dev/null || true
    exit 0 ;;
  start-proxy)
    start_server proxy
    wait_for "$3"
    exit ;;
esac
port=$3
base=$((port + 1))  # object, container, account servers on the next three ports
rm -rf "$dir" && mkdir -p "$dir/devices/d1" "$dir/run" "$dir/log"

cat >"$dir/swift.conf" <<CONF
[swift-hash]
swift_hash_path_suffix = sluice-tests
swift_hash_path_prefix = sluice-tests
[storage-policy:0]
name = only
default = yes
CONF

server_conf() {  # server_conf NAME PORT
  cat >"$dir/$1-server.conf" <<CONF
[DEFAULT]
swift_dir = $dir
devices = $dir/devices
mount_check = false
bind_ip = 127.0.0.1
bind_port = $2
workers = 0
log_name = $1
log_facility = LOG_LOCAL0
log_level = WARNING
[pipeline:main]
pipeline = $1-server
[app:$1-server]
use = egg:swift#$1
CONF
}
server_conf object $base
server_conf container $((base + 1))
server_conf account $((base + 2))

cat >"$dir/proxy-server.conf" <<CONF
[DEFAULT]
swift_dir = $dir
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
log_level = WARNING
[pipeline:main]
pipeline = catch_errors proxy-logging cache s3api tempauth slo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:cache]
# tempauth needs a cache in the pipeline; with no memcached it only misses.
use = egg:swift#memcache
memcache_servers = 127.0.0.1:1
[filter:slo]
# s3api builds multipart uploads on static large objects.
use = egg:swift#slo
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:proxy-logging]
use = egg:swift#proxy_logging
CONF

# The three rings (one device each), in one Python process: its start-up
# is most of the cost.
/usr/bin/python3 - "$dir" "$base" >"$dir/log/rings" 2>&1 <<'PY'
import sys
from swift.cli.ringbuilder import main
d, base = sys.argv[1], int(sys.argv[2])
for i, name in enumerate(["object", "container", "account"]):
    builder = f"{d}/{name}.builder"
    for args in (["create", "10", "1", "1"], ["add", f"r1z1-127.0.0.1:{base + i}/d1", "1"], ["rebalance"]):
        try:
            main(["swift-ring-builder", builder] + args)
        except SystemExit as e:
            if e.code not in (0, 1, None):  # 1: only a warning
                raise
PY

export SWIFT_DIR=$dir
for name in object container account proxy; do start_server $name; done
# The proxy alone answering is not enough: its requests would meet 503s
# from the others.
wait_for "$port" "$base" $((base + 1)) $((base + 2))
