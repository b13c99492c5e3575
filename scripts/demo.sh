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

# A scene is ~20 s; the server plays a file once per client, so loop it for an hour.
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

"$BIN/fixture-rtsp-server" --port "$RTSP_PORT" "gate1=$GATE1" "gate2=$GATE2" >"$DEMO/rtsp.urls" 2>"$DEMO/rtsp.log" &
pids+=($!)
"$BIN/admin-api" --listen "$API" 2>"$DEMO/admin-api.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$DEMO/rtsp.urls" ] && break; sleep 0.1; done
[ -s "$DEMO/rtsp.urls" ] || { echo "demo: RTSP server did not start; see $DEMO/rtsp.log"; exit 1; }

# One recogniser per camera, each with its scene's gallery and counting line.
# (Until `edge-agent run` lands — multi-camera, outbox, admin API — this shows
# recognition over real RTSP and logs every passage.)
"$BIN/edge-agent" watch "$(sed -n 1p "$DEMO/rtsp.urls")" --fixture fixtures/s04_unknowns_720p 2>&1 | tee "$DEMO/edge-agent-gate1.log" &
pids+=($!)
"$BIN/edge-agent" watch "$(sed -n 2p "$DEMO/rtsp.urls")" --fixture fixtures/s05_watchlist_720p 2>&1 | tee "$DEMO/edge-agent-gate2.log" &
pids+=($!)

cat <<MSG

  gatewatch demo is running
  ─────────────────────────
  RTSP cameras:  $(tr '\n' ' ' <"$DEMO/rtsp.urls")
  Admin web UI:  http://$API/   (login: not built yet — see README "Status")
  Passages:      logged below as people cross each gate's counting line
  Logs:          $DEMO/*.log
  Stop:          Ctrl-C

MSG
wait
