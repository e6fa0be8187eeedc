#!/usr/bin/env bash
# The pipeline benchmark with PostgreSQL: start it the way scripts/test.sh does (as root, from
# Debian's packages) when nothing answers on TARGET_POSTGRES_PORT, then run benchmarks/pipeline.py.
# Arguments go to pipeline.py (--sizes 20000,100000, --loaders …, --runs N).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export TARGET_POSTGRES_HOST="${TARGET_POSTGRES_HOST:-127.0.0.1}"
export TARGET_POSTGRES_PORT="${TARGET_POSTGRES_PORT:-5432}"
export TARGET_POSTGRES_USER="${TARGET_POSTGRES_USER:-postgres}"
export TARGET_POSTGRES_PASSWORD="${TARGET_POSTGRES_PASSWORD:-postgres}"
export TARGET_POSTGRES_DATABASE="${TARGET_POSTGRES_DATABASE:-postgres}"

answers() { (exec 3<> "/dev/tcp/$TARGET_POSTGRES_HOST/$TARGET_POSTGRES_PORT") 2> /dev/null; }

if ! answers; then
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "pipeline: no PostgreSQL on $TARGET_POSTGRES_HOST:$TARGET_POSTGRES_PORT; start one or run as root" >&2
        exit 1
    fi
    command -v pg_ctlcluster > /dev/null || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql > /dev/null
    }
    read -r version name < <(pg_lsclusters -h | awk -v port="$TARGET_POSTGRES_PORT" '$3 == port {print $1, $2; exit}') || true
    if [[ -z "${version:-}" ]]; then
        version="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)"
        name=main
        pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$version main" && name=genesys
        pg_createcluster --port "$TARGET_POSTGRES_PORT" "$version" "$name" > /dev/null
    fi
    pg_ctlcluster "$version" "$name" start
    for _ in $(seq 1 60); do answers && break; sleep 0.5; done
    runuser -u postgres -- psql -q -X -v ON_ERROR_STOP=1 -p "$TARGET_POSTGRES_PORT" -d postgres \
        -v u="$TARGET_POSTGRES_USER" -v pw="$TARGET_POSTGRES_PASSWORD" > /dev/null <<'SQL'
SELECT format('CREATE ROLE %I LOGIN SUPERUSER', :'u')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'u') \gexec
ALTER ROLE :"u" WITH LOGIN PASSWORD :'pw';
SQL
fi

exec .venv/bin/python benchmarks/pipeline.py "$@"
