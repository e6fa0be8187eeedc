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

# The analytics models (README, "Analytics models"): the conversations' child tables, the
# users' routing status and the directory for the first three days, then the dbt package's
# `dbt build` (models, tests, unit tests) through the dbt-duckdb utility, into a file of its own.
KPI_DB="$ROOT/output/demo_kpis.duckdb"
KPI_END="2024-01-04T00:00:00Z"
rm -f "$KPI_DB" "$KPI_DB.wal"
export TARGET_DUCKDB_FILEPATH="$KPI_DB"
export TAP_GENESYS_ANALYTICS_END_DATE="$KPI_END"
export TAP_GENESYS_ANALYTICS__SELECT='["conversation_details.*", "conversation_participants.*",
  "conversation_sessions.*", "conversation_segments.*", "conversation_metrics.*",
  "user_details.*", "user_routing_status.*", "user_presence.*", "queues.*", "users.*",
  "wrapup_codes.*"]'
echo "demo: meltano run tap-genesys-analytics target-duckdb dbt-duckdb:build ($START to $KPI_END)"
SECONDS=0
.venv-meltano/bin/meltano --log-level=warning run --full-refresh --state-id-suffix demo-kpis \
    tap-genesys-analytics target-duckdb dbt-duckdb:build
echo "demo: run took ${SECONDS}s"

.venv/bin/python - "$KPI_DB" <<'PY'
import sys
import duckdb

con = duckdb.connect(sys.argv[1], read_only=True)
rows = con.execute(
    """
    select report_date_local, coalesce(queue_name, queue_id), sum(offered), sum(answered),
        sum(abandoned),
        100.0 * sum(abandoned) / nullif(sum(offered), 0),
        sum(t_answered_sum) / nullif(sum(t_answered_count), 0) / 1000.0,
        sum(t_handle_sum) / nullif(sum(t_handle_count), 0) / 1000.0,
        100.0 * sum(sl_numerator) / nullif(sum(sl_denominator), 0)
    from analytics.genesys__queue_daily_metrics
    where media_type = 'voice'
    group by 1, 2
    order by 1, 2
    """
).fetchall()
print("\nVoice queues by day (analytics.genesys__queue_daily_metrics, UTC):")
print(f"{'day':<11} {'queue':<22} {'offered':>7} {'answered':>8} {'aband.':>6} "
      f"{'aband.%':>7} {'ASA s':>7} {'AHT s':>7} {'SL %':>6}")
for day, queue, offered, answered, abandoned, ab_pct, asa, aht, sl in rows:
    print(f"{day!s:<11} {queue[:22]:<22} {offered:>7} {answered:>8} {abandoned:>6} "
          f"{ab_pct or 0:>7.1f} {asa or 0:>7.1f} {aht or 0:>7.1f} {sl or 0:>6.1f}")
PY
