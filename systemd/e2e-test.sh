#!/usr/bin/env bash
# End to end under a real systemd 252: boots Debian 12 in systemd-nspawn (a cached
# debootstrapped root with a throw-away overlay), installs the Debian package built from the
# release build (`packaging/build-deb.sh`), serves the demo export over HTTP on loopback, and
# checks what an operator relies on: the install enables nothing, start waits for READY,
# sisync-api answering through sisync-api.socket and stopping within 5 s,
# STATUS in `systemctl status`, the unit's limits, a start with every auth (none without any
# secret file), SIGUSR1, reload with a broken config, journal fields, the
# watchdog restarting a frozen daemon, a stop under 5 seconds, then an upgrade to a newer
# package that keeps the edited conffile and restarts the service, remove (stopped) and
# purge (/etc/sisync gone, the database kept).
#
# Usage: systemd/e2e-test.sh   (root; `make test-systemd` builds first)
# Exit: 0 passed, 1 a check failed, 77 cannot run here (the reason is printed).
set -uo pipefail
cd "$(dirname "$0")/.."
PROJECT=$(pwd)
CACHE=${SISYNC_E2E_CACHE:-/var/cache/sisync-e2e}
ROOTFS=$CACHE/bookworm
NAME=sisync-e2e-$$
PORT=$((20000 + $$ % 20000))
API_PORT=$((PORT + 1))

skip() { echo "test-systemd: SKIPPED: $*"; exit 77; }
fail() { echo "test-systemd: FAILED: $*"; FAILED=1; }
pass() { echo "test-systemd: ok: $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn and overlay mounts)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is missing (apt-get install systemd-container)"
command -v debootstrap >/dev/null || skip "debootstrap is missing (apt-get install debootstrap)"
command -v python3 >/dev/null || skip "python3 is missing (serves the demo export)"
command -v curl >/dev/null || skip "curl is missing (asks sisync-api through its socket)"
[ -x .build/release/sisyncd ] || skip "no release build (make build)"
command -v dpkg-shlibdeps >/dev/null || skip "dpkg-shlibdeps is missing (apt-get install dpkg-dev)"

# The package, and a newer one for the upgrade check.
DEBS=$(mktemp -d /tmp/sisync-e2e-debs.XXXXXX)
DEB=$(packaging/build-deb.sh "$DEBS") || { rm -rf "$DEBS"; echo "test-systemd: FAILED: cannot build the package"; exit 1; }
NEWER=$(SISYNC_DEB_VERSION="$(dpkg-deb -f "$DEB" Version)+e2e1" packaging/build-deb.sh "$DEBS") || { echo "test-systemd: FAILED: cannot build the newer package"; exit 1; }

# What the package depends on (its Depends, first of each alternative), in the cached root
# so that dpkg installs it offline. The root is made again when this list changes.
DEPENDS=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/ //g' | grep -v '^$' | sort -u | paste -sd, -)
PACKAGES=systemd,systemd-sysv,dbus,procps,ca-certificates,tzdata,$DEPENDS
if [ "$(cat "$ROOTFS/.complete" 2>/dev/null)" != "$PACKAGES" ]; then
  echo "test-systemd: creating the Debian 12 root filesystem in $ROOTFS (once, about a minute)"
  rm -rf "$ROOTFS" && mkdir -p "$ROOTFS"
  timeout 900 debootstrap --variant=minbase --include="$PACKAGES" \
    bookworm "$ROOTFS" >"$CACHE/debootstrap.log" 2>&1 || skip "debootstrap failed (no network?); see $CACHE/debootstrap.log"
  echo "$PACKAGES" > "$ROOTFS/.complete"
fi

WORK=$(mktemp -d /tmp/sisync-e2e.XXXXXX)
mkdir -p "$WORK/upper" "$WORK/work" "$WORK/root" "$WORK/export"
mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$WORK/upper,workdir=$WORK/work" "$WORK/root" \
  || { rm -rf "$WORK"; skip "cannot mount an overlay filesystem here"; }
NSPAWN=""; SERVER=""
cleanup() {
  [ -n "$NSPAWN" ] && kill -TERM "$NSPAWN" 2>/dev/null && timeout 20 tail --pid="$NSPAWN" -f /dev/null
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
  umount "$WORK/root" 2>/dev/null
  rm -rf "$WORK" "$DEBS"
  rmdir "/sys/fs/cgroup/systemd/$NAME" "/sys/fs/cgroup/unified/$NAME" 2>/dev/null
}
trap cleanup EXIT

# The demo export, served on loopback (the container shares the host's network). The server
# checks the credential each auth sends (none, bearer, basic, an OAuth2 client secret for a
# token), so a run succeeds only when the unit handed sisyncd the right secret.
cp config/demo/*.csv "$WORK/export/"
cat > "$WORK/serve.py" <<'PY'
import base64, http.server, json, sys, urllib.parse
ACCEPTED = {"", "Bearer e2e-test-token", "Bearer e2e-oauth-access",
            "Basic " + base64.b64encode(b"e2e:e2e-password").decode()}
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass
    def do_GET(self):
        if self.headers.get("Authorization", "") not in ACCEPTED:
            self.send_error(401); return
        super().do_GET()
    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        if self.path != "/token" or form.get("client_secret") != ["e2e-client-secret"]:
            self.send_error(401); return
        body = json.dumps({"access_token": "e2e-oauth-access", "expires_in": 3600}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
(cd "$WORK/export" && exec python3 "$WORK/serve.py" "$PORT" >/dev/null 2>&1) &
SERVER=$!

# The packages go into the container; they are installed once it runs, by dpkg.
R=$WORK/root
cp "$DEB" "$R/root/sisync.deb"   # (not /tmp: the container mounts a tmpfs there)
cp "$NEWER" "$R/root/sisync-newer.deb"
mkdir -p "$WORK/conf"
cat > "$WORK/conf/sisync.conf" <<EOF
[sync]
database = /var/lib/sisync/sisync.db
interval = 1h
school_year = 2026-2027
[source]
format = csv
url = http://127.0.0.1:$PORT/
auth = bearer
token_file = sis-token
EOF
cp "$WORK/conf/sisync.conf" "$WORK/good.conf"

# Boot, from its own cgroups so that parallel containers do not share them.
for h in systemd unified; do mkdir -p "/sys/fs/cgroup/$h/$NAME" 2>/dev/null; done
(
  for h in systemd unified; do [ -d "/sys/fs/cgroup/$h/$NAME" ] && echo $BASHPID > "/sys/fs/cgroup/$h/$NAME/cgroup.procs" 2>/dev/null; done
  exec systemd-nspawn -D "$R" -M "$NAME" --boot --register=no --keep-unit --console=read-only \
    --resolv-conf=copy-host --timezone=off >"$WORK/console.log" 2>&1
) &
NSPAWN=$!
PID1=""
# The container's PID 1 is nspawn's child once it runs systemd (an intermediate child comes first).
for _ in $(seq 200); do
  PID1=$(pgrep -P "$NSPAWN" | head -1)
  [ -n "$PID1" ] && [ "$(cat /proc/"$PID1"/comm 2>/dev/null)" = systemd ] && break
  PID1=""; sleep 0.1
done
[ -n "$PID1" ] || skip "systemd-nspawn did not boot: $(tail -5 "$WORK/console.log")"
inside() { nsenter -t "$PID1" -a "$@"; }
# Until its bus is up, systemctl cannot even ask; then --wait waits for the boot to finish.
state=""
# ("offline" too: the manager in the container is not up yet; ask again.)
for _ in $(seq 300); do
  state=$(timeout 60 nsenter -t "$PID1" -a systemctl is-system-running --wait 2>"$WORK/state.err")
  case "$state" in ""|offline|unknown) sleep 0.2 ;; *) break ;; esac
done
case "$state" in running|degraded) ;; *) skip "the container's systemd is '$state' (pid $PID1): $(cat "$WORK/state.err") $(tail -3 "$WORK/console.log")";; esac
pass "container booted ($state)"

# 0. the package installs with dpkg, and enables and starts nothing.
if out=$(inside dpkg -i /root/sisync.deb 2>&1); then
  files_ok=1
  for f in /usr/bin/sisyncd /usr/bin/sisyncctl /usr/bin/sisync-api /lib/systemd/system/sisync.service /lib/systemd/system/sisync-tenants.service \
           /lib/systemd/system/sisync-api.service /lib/systemd/system/sisync-api.socket /usr/share/man/man8/sisync-api.8.gz \
           /etc/sisync/sisync.conf /usr/share/doc/sisync/copyright /usr/share/man/man8/sisyncd.8.gz /usr/share/man/man8/sisyncctl.8.gz \
           /usr/share/man/man5/sisync.conf.5.gz /usr/share/bash-completion/completions/sisyncctl; do
    [ -e "$R$f" ] || { fail "the package did not install $f"; files_ok=""; }
  done
  inside dpkg-query -W -f='${Conffiles}' sisync | grep -q /etc/sisync/sisync.conf || { fail "/etc/sisync/sisync.conf is not a conffile"; files_ok=""; }
  enabled=$(inside systemctl is-enabled sisync 2>&1); active=$(inside systemctl is-active sisync 2>&1)
  if [ -n "$files_ok" ] && [ "$enabled" = disabled ] && [ "$active" = inactive ]; then
    pass "dpkg -i installed $(inside dpkg-query -W -f='${Package} ${Version}' sisync); nothing enabled or started"
  else
    fail "after install: is-enabled $enabled, is-active $active"
  fi
else
  fail "dpkg -i failed: $out"
fi
# The administrator's part: a test drop-in with a short watchdog and a quick restart, so the
# watchdog check takes seconds; then the configuration (editing the conffile) and the token.
mkdir -p "$R/etc/systemd/system/sisync.service.d" "$R/etc/credstore"
chmod 0700 "$R/etc/credstore"
printf '[Service]\nWatchdogSec=3s\nRestartSec=1s\n' > "$R/etc/systemd/system/sisync.service.d/test.conf"
inside systemctl daemon-reload

FAILED=0
wait_status() {  # wait_status PATTERN SECONDS
  local text=""
  for _ in $(seq $(($2 * 10))); do
    text=$(inside systemctl show -p StatusText --value sisync)
    if [[ "$text" =~ $1 ]]; then echo "$text"; return 0; fi
    sleep 0.1
  done
  echo "$text"; return 1
}

# 0b. (issue 26 item 13) the unit's limits; and it starts with every auth, each secret in
# /etc/credstore under the name the unit loads: none with no file there at all (no
# sis-token), then basic and oauth2, each into a database of its own.
limits=$(inside systemctl show -p LimitCORE -p TasksMax -p MemoryMax sisync | sort | paste -sd' ' -)
if [ "$limits" = "LimitCORE=0 MemoryMax=3758096384 TasksMax=512" ]; then pass "limits: $limits"; else fail "limits: $limits"; fi
install -m 0600 /dev/stdin "$R/etc/credstore/sis-password" <<< "e2e-password"
install -m 0600 /dev/stdin "$R/etc/credstore/sis-client-secret" <<< "e2e-client-secret"
for auth in none basic oauth2; do
  case $auth in
    none) lines="auth = none" ;;
    basic) lines=$'auth = basic\nusername = e2e\npassword_file = sis-password' ;;
    oauth2) lines=$'auth = oauth2\ntoken_url = http://127.0.0.1:'"$PORT"$'/token\nclient_id = e2e\nclient_secret_file = sis-client-secret' ;;
  esac
  printf '[sync]\ndatabase = /var/lib/sisync/auth-%s.db\ninterval = 1h\nschool_year = 2026-2027\n[source]\nformat = csv\nurl = http://127.0.0.1:%s/\n%s\n' \
    "$auth" "$PORT" "$lines" > "$R/etc/sisync/sisync.conf"
  if timeout 60 nsenter -t "$PID1" -a systemctl start sisync && s=$(wait_status '^last run 1 applied' 30); then
    pass "auth = $auth: started without a sis-token file and synced ($s)"
  else
    fail "auth = $auth: $(inside systemctl is-active sisync) '${s:-}' $(inside journalctl -u sisync -n 10 --no-pager)"
  fi
  timeout 30 nsenter -t "$PID1" -a systemctl stop sisync
done
cp "$WORK/conf/sisync.conf" "$R/etc/sisync/sisync.conf"
install -m 0600 /dev/stdin "$R/etc/credstore/sis-token" <<< "e2e-test-token"

# 1. start returns once READY was sent; the service is active.
if timeout 60 nsenter -t "$PID1" -a systemctl start sisync; then
  [ "$(inside systemctl is-active sisync)" = active ] && pass "systemctl start returned after READY (active)" || fail "not active after start"
else
  fail "systemctl start failed: $(inside journalctl -u sisync -n 20 --no-pager)"
fi

# 2. the STATUS line after the first run.
if s=$(wait_status '^last run 1 applied' 30); then
  inside systemctl status sisync --no-pager | grep -q "Status: \"last run 1 applied" && pass "systemctl status shows: $s" || fail "status lacks the STATUS line"
else
  fail "no STATUS line after the first run: '$s' $(inside journalctl -u sisync -n 20 --no-pager)"
fi

# 3. SIGUSR1 makes a new run.
inside systemctl kill -s SIGUSR1 sisync
s=$(wait_status '^last run 2 ' 30) && pass "SIGUSR1: $s" || fail "no second run after SIGUSR1: '$s'"

# 4. reload with a broken configuration keeps the service on the old one.
printf '[sync]\ndatabase = /var/lib/sisync/sisync.db\nintervall = 1h\n' > "$R/etc/sisync/sisync.conf"
if timeout 30 nsenter -t "$PID1" -a systemctl reload sisync && [ "$(inside systemctl is-active sisync)" = active ]; then
  s=$(wait_status '^last run 3 ' 30)
  logged=""
  for _ in $(seq 50); do  # journald stores entries asynchronously
    inside journalctl -u sisync -o json --no-pager | grep -q '"MESSAGE_ID":"05885ac611f3b88664b712c9dd74eb3b"' && { logged=1; break; }
    sleep 0.1
  done
  if [ -n "$logged" ]; then
    pass "reload with a broken config: rejected, still active, synced ($s)"
  else
    fail "the rejected configuration was not logged"
  fi
else
  fail "reload with a broken configuration: $(inside systemctl is-active sisync)"
fi
cp "$WORK/good.conf" "$R/etc/sisync/sisync.conf"

# 5. journal entries carry MESSAGE_ID and SISYNC_RUN_ID.
inside journalctl --sync 2>/dev/null
json=$(inside journalctl -u sisync -o json --no-pager)
if grep -q '"MESSAGE_ID":"c4b92f79d5de3d503cb0d71599875a00"' <<<"$json" && grep -q '"SISYNC_RUN_ID":"1"' <<<"$json" \
   && grep -q '"SYSLOG_IDENTIFIER":"sisyncd"' <<<"$json"; then
  pass "journalctl -o json has MESSAGE_ID, SISYNC_RUN_ID and SYSLOG_IDENTIFIER"
else
  fail "journal entries lack MESSAGE_ID/SISYNC_RUN_ID: $(grep -m3 sisync <<<"$json" | cut -c1-300)"
fi

# 6. a frozen daemon is killed by the watchdog and restarted.
old=$(inside systemctl show -p MainPID --value sisync)
inside kill -STOP "$old"
restarted=""
for _ in $(seq 200); do
  new=$(inside systemctl show -p MainPID --value sisync)
  if [ "$new" != "$old" ] && [ "$new" != 0 ] && [ "$(inside systemctl is-active sisync)" = active ]; then restarted=$new; break; fi
  sleep 0.1
done
# journald may store systemd's "Watchdog timeout" entry a moment after the restart.
seen_timeout=""
if [ -n "$restarted" ]; then
  for _ in $(seq 50); do
    inside journalctl --sync >/dev/null 2>&1
    if inside journalctl -u sisync --no-pager | grep -qi "watchdog timeout"; then seen_timeout=1; break; fi
    sleep 0.1
  done
fi
if [ -n "$restarted" ] && [ -n "$seen_timeout" ]; then
  pass "SIGSTOP: the watchdog killed pid $old and systemd restarted sisyncd as pid $restarted"
else
  fail "the watchdog did not restart the frozen daemon (MainPID $old -> ${new:-?}): $(inside journalctl -u sisync -n 10 --no-pager)"
fi

# 7. stop takes under 5 seconds.
wait_status '^last run' 30 >/dev/null
start=$(date +%s%N)
timeout 30 nsenter -t "$PID1" -a systemctl stop sisync
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$ms" -lt 5000 ] && [ "$(inside systemctl is-active sisync)" != active ]; then
  pass "systemctl stop took ${ms} ms"
else
  fail "systemctl stop took ${ms} ms"
fi

# 7b. sisync-api through its socket (issue 30): the socket unit listens (on a port of this
# test, by a drop-in, since the container shares the host's network), the first connection
# starts the service, which answers over HTTP as sisync.service's user; stop within 5 s.
mkdir -p "$R/etc/systemd/system/sisync-api.socket.d"
printf '[Socket]\nListenStream=\nListenStream=127.0.0.1:%s\n' "$API_PORT" > "$R/etc/systemd/system/sisync-api.socket.d/test.conf"
inside systemctl daemon-reload
if timeout 30 nsenter -t "$PID1" -a systemctl start sisync-api.socket; then
  code=$(curl -s -o "$WORK/api.out" -w '%{http_code}' --max-time 20 "http://127.0.0.1:$API_PORT/v1/health")
  active=$(inside systemctl is-active sisync-api.service)
  user=$(inside ps -o user= -p "$(inside systemctl show -p MainPID --value sisync-api.service)" 2>/dev/null | tr -d ' ')
  # ps names a dynamic user only where nss-systemd resolves it; else it shows the uid, which
  # must be the one that owns sisync.service's state directory (the store it opens).
  owner=$(inside stat -c %u /var/lib/private/sisync 2>/dev/null || true)
  if [ "$code" != 000 ] && [ "$active" = active ] && grep -q '"status"' "$WORK/api.out" \
     && { [ "$user" = sisync ] || { [ -n "$owner" ] && [ "$user" = "$owner" ]; }; }; then
    pass "sisync-api.socket started sisync-api.service on the first request (HTTP $code, user $user)"
  else
    fail "sisync-api through its socket: HTTP $code, service $active, user '$user', $(head -c 300 "$WORK/api.out") $(inside journalctl -u sisync-api -n 10 --no-pager)"
  fi
  start=$(date +%s%N)
  timeout 30 nsenter -t "$PID1" -a systemctl stop sisync-api.socket sisync-api.service
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ "$ms" -lt 5000 ] && [ "$(inside systemctl is-active sisync-api.service)" != active ]; then
    pass "systemctl stop sisync-api took ${ms} ms"
  else
    fail "systemctl stop sisync-api took ${ms} ms"
  fi
else
  fail "systemctl start sisync-api.socket failed: $(inside journalctl -u sisync-api.socket -n 10 --no-pager)"
fi

# 8. an upgrade keeps the edited conffile and restarts the running service.
cp "$WORK/good.conf" "$R/etc/sisync/sisync.conf"
echo "# edited by the administrator" >> "$R/etc/sisync/sisync.conf"
timeout 60 nsenter -t "$PID1" -a systemctl start sisync
wait_status '^last run' 30 >/dev/null
old=$(inside systemctl show -p MainPID --value sisync)
if out=$(inside dpkg -i --force-confold /root/sisync-newer.deb 2>&1); then
  new=$(inside systemctl show -p MainPID --value sisync)
  if grep -q "edited by the administrator" "$R/etc/sisync/sisync.conf" && [ "$new" != "$old" ] && [ "$new" != 0 ] \
     && [ "$(inside systemctl is-active sisync)" = active ]; then
    pass "upgrade to $(inside dpkg-query -W -f='${Version}' sisync): the edited conffile kept, the service restarted (pid $old -> $new)"
  else
    fail "upgrade: conffile $(tail -1 "$R/etc/sisync/sisync.conf"), MainPID $old -> $new, $(inside systemctl is-active sisync)"
  fi
else
  fail "dpkg -i of the newer package failed: $out"
fi

# 9. remove stops the service and keeps the configuration; purge removes /etc/sisync and
# keeps the database.
if out=$(inside dpkg -r sisync 2>&1); then
  if [ "$(inside systemctl is-active sisync)" != active ] && [ ! -e "$R/usr/bin/sisyncd" ] && [ -e "$R/etc/sisync/sisync.conf" ]; then
    pass "dpkg -r: stopped, binaries gone, configuration kept"
  else
    fail "after dpkg -r: $(inside systemctl is-active sisync), sisyncd $(ls "$R/usr/bin/sisyncd" 2>&1)"
  fi
else
  fail "dpkg -r failed: $out"
fi
if out=$(inside dpkg -P sisync 2>&1); then
  if [ ! -e "$R/etc/sisync" ] && [ -e "$R/var/lib/private/sisync/sisync.db" ]; then
    pass "dpkg -P: /etc/sisync removed, the database in /var/lib/sisync kept"
  else
    fail "after dpkg -P: /etc/sisync $(ls -d "$R/etc/sisync" 2>&1), database $(ls "$R/var/lib/private/sisync" 2>&1)"
  fi
else
  fail "dpkg -P failed: $out"
fi

if [ "$FAILED" = 0 ]; then echo "test-systemd: PASSED"; exit 0; fi
echo "test-systemd: journal of the unit:"; inside journalctl -u sisync --no-pager | tail -40
exit 1
