#!/usr/bin/env bash
# Demo: extract 20,000 simulated conversations with Meltano into DuckDB and summarise them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PORT="${DEMO_PORT:-8765}"
SIM_URL="http://127.0.0.1:${PORT}"
CONVERSATIONS="${DEMO_CONVERSATIONS:-20000}"
START="2024-01-01T00:00:00Z"
END="2024-01-31T00:00:00Z"
DB="$ROOT/output/demo.duckdb"
SIM_LOG="$ROOT/output/simulator.log"

bash scripts/setup.sh

if .venv/bin/python - "$PORT" <<'PY'
import socket, sys
with socket.socket() as s:
    sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
then
    echo "demo: port ${PORT} is already in use; stop what listens there or set DEMO_PORT" >&2
    exit 1
fi

mkdir -p output
# The simulator's clock stands days after the last conversation, so every one has ended:
# the tap holds back conversations that are still live until a later run.
.venv/bin/python -m genesys_simulator --port "$PORT" --conversations "$CONVERSATIONS" \
    --start 2024-01-01 --days 30 --seed 1 --now 2024-02-05T00:00:00Z > "$SIM_LOG" 2>&1 &
SIM_PID=$!
cleanup() {
    if kill -0 "$SIM_PID" 2>/dev/null; then
        kill -TERM "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 100); do
    if .venv/bin/python - "$SIM_URL" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/_sim/stats", timeout=1).close()
PY
    then
        break
    fi
    if ! kill -0 "$SIM_PID" 2>/dev/null; then
        echo "demo: the simulator exited; its log:" >&2
        cat "$SIM_LOG" >&2
        exit 1
    fi
    sleep 0.2
done
cat "$SIM_LOG"

rm -f "$DB" "$DB.wal"
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
export TAP_GENESYS_ANALYTICS_API_URL="$SIM_URL"
export TAP_GENESYS_ANALYTICS_LOGIN_URL="$SIM_URL"
export TAP_GENESYS_ANALYTICS_CLIENT_ID=sim-client
export TAP_GENESYS_ANALYTICS_CLIENT_SECRET=sim-secret
export TAP_GENESYS_ANALYTICS_START_DATE="$START"
export TAP_GENESYS_ANALYTICS_END_DATE="$END"
export TARGET_DUCKDB_FILEPATH="$DB"

echo "demo: meltano run tap-genesys-analytics target-duckdb"
SECONDS=0
.venv-meltano/bin/meltano --log-level=warning run --full-refresh --state-id-suffix demo \
    tap-genesys-analytics target-duckdb
echo "demo: run took ${SECONDS}s"

.venv/bin/python scripts/demo_summary.py --db "$DB" --sim-url "$SIM_URL" --start "$START" --end "$END"
