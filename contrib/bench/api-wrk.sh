#!/bin/bash
# Benchmark of sisync-api (issue 30, "What to show"): a store of 207k users, one API client,
# then wrk: GET /v1/users/{u} at 1, 16 and 64 connections (requests/s, p50, p99), SCIM's
# GET /scim/v2/Users?filter=userName eq "u" at 1 and 16 (issue 32), POST
# /v1/logins (bounded by the password hash, on purpose), and sisync-api's RSS before and
# after (--soak runs reads until about a million requests have been answered).
#
#   contrib/bench/api-wrk.sh                              # SQLite, in /tmp/sisync-api-bench
#   contrib/bench/api-wrk.sh --database postgresql://sisync@127.0.0.1:5432/sisync \
#       --schema api_bench --password-file /path/to/pw    # PostgreSQL
#   contrib/bench/api-wrk.sh --soak                       # also ~1M reads, RSS after
#   contrib/bench/api-wrk.sh --reconcile                  # also a provider's full SCIM
#       reconciliation: every user once by filter=userName eq, 16 connections, timed
#
# Needs wrk (apt-get install wrk) and a release build (swift build -c release). The store
# is made once (sisyncctl sync of one staff record, user import of the generated users)
# and kept in DIR for the next run. Load tool and server share the machine's cores.
set -euo pipefail

BIN=${BIN:-$(cd "$(dirname "$0")/../.." && pwd)/.build/release}
DIR=/tmp/sisync-api-bench
DATABASE=""
SCHEMA=api_bench
PASSWORD_FILE=""
USERS=207000
DURATION=10s
PORT=18420
SOAK=0
RECONCILE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --database) DATABASE=$2; shift 2 ;;
    --schema) SCHEMA=$2; shift 2 ;;
    --password-file) PASSWORD_FILE=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --users) USERS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --soak) SOAK=1; shift ;;
    --reconcile) RECONCILE=1; shift ;;
    *) echo "usage: $0 [--database URI [--schema S] [--password-file F]] [--dir DIR] [--users N] [--duration 10s] [--port P] [--soak] [--reconcile]" >&2; exit 64 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 69; }
[ -x "$BIN/sisync-api" ] || { echo "no $BIN/sisync-api: swift build -c release" >&2; exit 69; }
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$DIR/export"
CONF=$DIR/${DATABASE:+pg-}sisync.conf
{
  echo "[sync]"
  if [ -n "$DATABASE" ]; then
    echo "database = $DATABASE"; echo "database_schema = $SCHEMA"
    [ -n "$PASSWORD_FILE" ] && echo "database_password_file = $PASSWORD_FILE"
  else
    echo "database = $DIR/bench.db"
  fi
  printf '[source]\nformat = csv\nurl = %s/export/\nentities = staff\n' "$DIR"
  # access_log = off: journald (stderr here) is not what is measured.
  printf '[api]\naccess_log = off\nmax_failures_per_minute = 100000\n'
} > "$CONF"
ctl() { "$BIN/sisyncctl" --config "$CONF" "$@"; }

MARK=$DIR/.${DATABASE:+pg-}made
if [ ! -e "$MARK" ]; then
  printf 'staff_id,first_name,last_name,email,title,school_ids,status\nS1,Ann,Lee,ann@district.org,Teacher,101,active\n' > "$DIR/export/staff.csv"
  ctl sync >/dev/null
  awk -v n="$USERS" 'BEGIN { print "username,email,approved,student_id,household_id,donor_id";
    for (i = 1; i <= n; i++) printf "user%06d,user%06d@district.org,true,,,\n", i, i;
    print "bench-login,bench-login@district.org,true,,," }' > "$DIR/users.csv"
  ctl user import "$DIR/users.csv" | tail -1
  echo "bench password" | ctl user passwd bench-login >/dev/null
  touch "$MARK"
fi
CLIENT=bench-$$
TOKEN=$(ctl api client add "$CLIENT" --scopes read,login,scim | awk '/^ *sisync_/ { print $1 }')
export SISYNC_TOKEN=$TOKEN SISYNC_USERS=$USERS SISYNC_PASSWORD="bench password"

"$BIN/sisync-api" --config "$CONF" --listen 127.0.0.1:$PORT 2>"$DIR/sisync-api.log" &
API=$!
trap 'kill $API 2>/dev/null; wait $API 2>/dev/null; ctl api client revoke "$CLIENT" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/v1/health" >/dev/null && break; sleep 0.1; done
kill -0 $API 2>/dev/null || { cat "$DIR/sisync-api.log" >&2; exit 69; }
rss() { awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' /proc/$API/status; }

echo "store: ${DATABASE:-SQLite $DIR/bench.db}, $USERS users; sisync-api RSS at start $(rss)"
curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/users/user000001" >/dev/null
echo "RSS after the first request $(rss)"
summary() { awk '/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } /Non-2xx/ { bad = $NF }
  END { printf "%10s req/s  p50 %8s  p99 %8s  non-2xx %s\n", rps, p50, p99, bad + 0 }'; }
for c in 1 16 64; do
  t=$(( c < 2 ? 1 : 2 ))
  printf 'GET /v1/users/{u}   %2d connections: ' "$c"
  wrk -t$t -c$c -d"$DURATION" --latency -s "$HERE/api-users.lua" "http://127.0.0.1:$PORT" | summary
done
# SCIM (issue 32): a provider's lookup by userName, the query of its reconciliation.
for c in 1 16; do
  printf 'GET /scim/v2/Users?filter=userName eq  %2d connections: ' "$c"
  SISYNC_PATH='/scim/v2/Users?filter=userName%%20eq%%20%%22user%06d%%22' \
    wrk -t$(( c < 2 ? 1 : 2 )) -c$c -d"$DURATION" --latency -s "$HERE/api-users.lua" "http://127.0.0.1:$PORT" | summary
done
if [ "$RECONCILE" = 1 ]; then
  # Each user once, one wrk thread over 16 connections; the script ends wrk at the last answer.
  start=$(date +%s.%N)
  wrk -t1 -c16 -d3600s -s "$HERE/scim-reconcile.lua" "http://127.0.0.1:$PORT" | grep '^reconciliation:'
  awk -v s="$start" -v e="$(date +%s.%N)" -v n="$USERS" 'BEGIN { printf "SCIM reconciliation, 16 connections: %.1f s, %.0f users/s\n", e - s, n / (e - s) }'
fi
printf 'POST /v1/logins     16 connections: '
wrk -t2 -c16 -d"$DURATION" --latency -s "$HERE/api-logins.lua" "http://127.0.0.1:$PORT/v1/logins" | summary
echo "RSS after the runs $(rss)"
if [ "$SOAK" = 1 ]; then
  for round in 1 2 3 4 5; do
    printf 'soak round %d (64 connections, 40 s): ' "$round"
    wrk -t2 -c64 -d40s -s "$HERE/api-users.lua" "http://127.0.0.1:$PORT" | awk '/requests in/ { printf "%s requests, ", $1 }'
    echo "RSS $(rss)"
  done
fi
