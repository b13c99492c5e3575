#!/usr/bin/env bash
# One idempotent setup for a fresh Debian 12 machine: system packages, the
# Python tools, the ONNX Runtime library, the face models and the fixtures.
# Each step checks first and prints nothing when there is nothing to do.
#
#   scripts/setup.sh [system|postgres|python|onnxruntime|models|fixtures|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.31.1
ORT_WHEEL_SHA256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
ORT_LIB_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3
ORT_DIR=third_party/onnxruntime
ORT_LIB=$ORT_DIR/libonnxruntime.so.$ORT_VERSION

# GStreamer 1.22 with the RTSP server library, ffmpeg (fixtures), clang and
# OpenCV headers (the opencv crate's bindings), PostgreSQL and Chromium (tests).
DEBS=(
  pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp gstreamer1.0-tools
  libgstrtspserver-1.0-dev ffmpeg clang libclang-dev libopencv-dev
  postgresql chromium chromium-driver
)

# The PostgreSQL server the admin API's tests (and sites that outgrow SQLite)
# use: Debian's cluster on 127.0.0.1:5432, a role that may create test databases.
PG_VERSION=15
PG_ROLE=gatewatch
PG_PASSWORD=gatewatch

say() { echo "setup: $*"; }

step_system() {
  local missing=()
  for p in "${DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${missing[*]}"
    say "run as root (or: sudo apt-get install ${missing[*]})"
    exit 1
  fi
  say "installing ${#missing[@]} Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

step_python() {
  if [ -x .venv/bin/python ] && cmp -s scripts/requirements.txt .venv/.requirements 2>/dev/null; then
    return 0
  fi
  say "creating .venv with the pinned Python tools"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements.txt
  cp scripts/requirements.txt .venv/.requirements
}

step_onnxruntime() {
  if [ -f "$ORT_LIB" ] && echo "$ORT_LIB_SHA256  $ORT_LIB" | sha256sum -c --quiet - 2>/dev/null; then
    return 0
  fi
  say "installing ONNX Runtime $ORT_VERSION from the PyPI wheel"
  local dl=.cache/wheels
  mkdir -p "$dl" "$ORT_DIR"
  local wheel=$dl/onnxruntime-$ORT_VERSION-cp311-cp311-manylinux_2_28_x86_64.whl
  if [ ! -f "$wheel" ]; then
    .venv/bin/pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform manylinux_2_28_x86_64 --python-version 3.11 -d "$dl" "onnxruntime==$ORT_VERSION"
  fi
  echo "$ORT_WHEEL_SHA256  $wheel" | sha256sum -c --quiet - || { say "onnxruntime wheel hash mismatch"; exit 1; }
  .venv/bin/python - "$wheel" "$ORT_LIB" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    data = z.read(f"onnxruntime/capi/{out.rsplit('/', 1)[1]}")
open(out + ".tmp", "wb").write(data)
PY
  mv "$ORT_LIB.tmp" "$ORT_LIB"
  echo "$ORT_LIB_SHA256  $ORT_LIB" | sha256sum -c --quiet - || { say "libonnxruntime hash mismatch"; exit 1; }
}

step_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null \
    && PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -U $PG_ROLE -d $PG_ROLE -tAc 'select 1' >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    say "PostgreSQL is not running on 127.0.0.1:5432 with role $PG_ROLE; run as root: scripts/setup.sh postgres"
    exit 1
  fi
  say "starting PostgreSQL $PG_VERSION on 127.0.0.1:5432"
  pg_lsclusters -h | grep -q "^$PG_VERSION main" || pg_createcluster "$PG_VERSION" main >/dev/null
  pg_ctlcluster "$PG_VERSION" main start 2>/dev/null || pg_ctlcluster "$PG_VERSION" main status >/dev/null
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
  su postgres -c "psql -q -v ON_ERROR_STOP=1" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
    CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SQL
  su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = '$PG_ROLE'\"" | grep -q 1 \
    || su postgres -c "createdb -O $PG_ROLE $PG_ROLE"
}

step_models() { .venv/bin/python models/fetch.py; }
step_fixtures() { .venv/bin/python fixtures/generate.py; }

case "${1:-all}" in
  system) step_system ;;
  postgres) step_system; step_postgres ;;
  python) step_python ;;
  onnxruntime) step_python; step_onnxruntime ;;
  models) step_python; step_models ;;
  fixtures) step_python; step_models; step_fixtures ;;
  all) step_system; step_postgres; step_python; step_onnxruntime; step_models; step_fixtures ;;
  *) echo "usage: $0 [system|postgres|python|onnxruntime|models|fixtures|all]" >&2; exit 2 ;;
esac
