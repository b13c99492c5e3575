#!/usr/bin/env bash
# The demo: a real RTSP server on 127.0.0.1 looping two recorded gate scenes,
# the admin API, and an edge agent pulling the streams. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${CARGO_TARGET_DIR:-target}/release
DEMO=data/demo
RTSP_PORT=${RTSP_PORT:-8554}
API=${API:-127.0.0.1:8080}
mkdir -p "$DEMO"

# A scene is ~20 s; loop it for an hour (the server streams it like a camera).
loop_scene() {
  local scene=$1 out=$DEMO/$1-loop.mp4
  if [ ! -f "$out" ] || [ "fixtures/$scene/video.mp4" -nt "$out" ]; then
    ffmpeg -loglevel error -y -stream_loop 180 -i "fixtures/$scene/video.mp4" -c copy "$out"
  fi
  echo "$out"
}
GATE1=$(loop_scene s04_unknowns_720p)
GATE2=$(loop_scene s05_watchlist_720p)

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$BIN/fixture-rtsp-server" --port "$RTSP_PORT" --shared "gate1=$GATE1" "gate2=$GATE2" >"$DEMO/rtsp.urls" 2>"$DEMO/rtsp.log" &
pids+=($!)
DB="sqlite:$DEMO/admin.db"
if [ ! -s "$DEMO/agent.token" ]; then
  rm -f "$DEMO/admin.db"*
  "$BIN/admin-api" --db "$DB" add-agent --id demo-agent --site demo-site >"$DEMO/agent.token"
fi
# The demo's enrolled people: the fixtures' gallery with their photos,
# enrolled in the admin API (embeddings computed there, photos shown beside
# each alert's face); the agent syncs them on start.
if [ ! -d "$DEMO/admin/photos" ]; then
  "$BIN/admin-api" --db "$DB" enrol-fixture fixtures/s04_unknowns_720p --data "$DEMO/admin" >/dev/null
fi
# Demo accounts (a real site creates its first superadmin the same way, with
# its own password). "Already exists" on a second run is expected.
demo_user() {
  GATEWATCH_PASSWORD=$3 "$BIN/admin-api" --db "$DB" create-user --username "$1" --role "$2" --sites demo-site \
    >/dev/null 2>"$DEMO/create-user.err" || grep -q "already exists" "$DEMO/create-user.err" \
    || { cat "$DEMO/create-user.err"; exit 1; }
}
demo_user guard guard demo-guard-2026
demo_user admin admin demo-admin-2026
demo_user root superadmin demo-root-2026
METRICS=${METRICS:-127.0.0.1:9465}
"$BIN/admin-api" --db "$DB" serve --listen "$API" --data "$DEMO/admin" --edge-offline-after-secs 20 \
  --metrics-listen "$METRICS" 2>"$DEMO/admin-api.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$DEMO/rtsp.urls" ] && break; sleep 0.1; done
[ -s "$DEMO/rtsp.urls" ] || { echo "demo: RTSP server did not start; see $DEMO/rtsp.log"; exit 1; }

cat >"$DEMO/agent.toml" <<TOML
[agent]
id = "demo-agent"
site = "demo-site"
data_dir = "$DEMO/agent"
[admin_api]
url = "http://$API"
token_env = "GATEWATCH_AGENT_TOKEN"
[heartbeat]
interval_ms = 5000
[[camera]]
id = "gate1"
gate = "main-gate"
url = "$(sed -n 1p "$DEMO/rtsp.urls")"
line = { a = [0.0, 0.55], b = [1.0, 0.55], inside = "below" }
[[camera]]
id = "gate2"
gate = "side-gate"
url = "$(sed -n 2p "$DEMO/rtsp.urls")"
line = { a = [0.0, 0.55], b = [1.0, 0.55], inside = "below" }
restricted = true
[ops]
listen = "127.0.0.1:${OPS_PORT:-9464}"
TOML
GATEWATCH_AGENT_TOKEN=$(cat "$DEMO/agent.token") "$BIN/edge-agent" run --config "$DEMO/agent.toml" 2>&1 | tee "$DEMO/edge-agent.log" &
pids+=($!)

cat <<MSG

  gatewatch demo is running
  ─────────────────────────
  RTSP cameras:  $(tr '\n' ' ' <"$DEMO/rtsp.urls")
  Web UI:        http://$API/
  Logins:        guard / demo-guard-2026   (live alerts)
                 admin / demo-admin-2026   (visitor log, people, devices, statistics)
                 root  / demo-root-2026    (superadmin: accounts, retention, audit log)
  Passages:      logged below as they are stored and sent; stored events:
                 $BIN/admin-api --db $DB events
  Agent health:  curl http://127.0.0.1:${OPS_PORT:-9464}/healthz
  Metrics:       curl http://127.0.0.1:${OPS_PORT:-9464}/metrics   (this agent)
                 curl http://$METRICS/metrics   (the fleet, from the admin API)
  Logs:          $DEMO/*.log
  Stop:          Ctrl-C

MSG
wait
