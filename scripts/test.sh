#!/usr/bin/env bash
# Install, start PostgreSQL when needed, then lint, type-check and test. Arguments go to pytest.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'test: %s\n' "$*" >&2; }

export TARGET_POSTGRES_HOST="${TARGET_POSTGRES_HOST:-127.0.0.1}"
export TARGET_POSTGRES_PORT="${TARGET_POSTGRES_PORT:-5432}"
export TARGET_POSTGRES_USER="${TARGET_POSTGRES_USER:-postgres}"
export TARGET_POSTGRES_PASSWORD="${TARGET_POSTGRES_PASSWORD:-postgres}"
export TARGET_POSTGRES_DATABASE="${TARGET_POSTGRES_DATABASE:-postgres}"
export PGHOST="$TARGET_POSTGRES_HOST"
export PGPORT="$TARGET_POSTGRES_PORT"
export PGUSER="$TARGET_POSTGRES_USER"
export PGPASSWORD="$TARGET_POSTGRES_PASSWORD"
export PGDATABASE="$TARGET_POSTGRES_DATABASE"

postgres_answers() {
    if command -v pg_isready > /dev/null; then
        pg_isready -q -h "$PGHOST" -p "$PGPORT"
    else
        (exec 3<> "/dev/tcp/$PGHOST/$PGPORT") 2> /dev/null
    fi
}

start_postgres() {
    if [[ "$(id -u)" -ne 0 ]]; then
        if ! postgres_answers; then
            log "PostgreSQL is not running on $PGHOST:$PGPORT and this is not root: its tests skip"
        fi
        return 0
    fi
    if postgres_answers; then
        if command -v psql > /dev/null && ! psql -X -q -c 'SELECT 1' > /dev/null 2>&1; then
            if [[ "${CI:-}" == "true" ]]; then
                ensure_role
            else
                log "PostgreSQL on $PGHOST:$PGPORT refuses $PGUSER with this password:" \
                    "set TARGET_POSTGRES_PASSWORD (and _USER, _DATABASE) to ones it accepts"
            fi
        fi
        log "PostgreSQL answers on $PGHOST:$PGPORT"
        return 0
    fi
    if ! command -v pg_ctlcluster > /dev/null; then
        log "installing PostgreSQL from Debian packages"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql > /dev/null
    fi
    local version name
    read -r version name < <(pg_lsclusters -h | awk -v port="$PGPORT" '$3 == port {print $1, $2; exit}') || true
    if [[ -z "${version:-}" ]]; then
        version="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)"
        name=main
        if pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$version main"; then
            name=genesys
        fi
        log "creating PostgreSQL $version cluster '$name' on port $PGPORT"
        pg_createcluster --port "$PGPORT" "$version" "$name" > /dev/null
    fi
    log "starting PostgreSQL $version/$name"
    pg_ctlcluster "$version" "$name" start
    for _ in $(seq 1 60); do
        postgres_answers && break
        sleep 0.5
    done
    postgres_answers || { log "PostgreSQL did not start"; return 1; }
    ensure_role
    log "PostgreSQL ready on $PGHOST:$PGPORT (user $PGUSER, database $PGDATABASE)"
}

ensure_role() {
    env -u PGHOST -u PGUSER -u PGPASSWORD -u PGDATABASE \
        runuser -u postgres -- psql -q -X -v ON_ERROR_STOP=1 -p "$PGPORT" -d postgres \
        -v u="$PGUSER" -v pw="$PGPASSWORD" -v db="$PGDATABASE" > /dev/null <<'SQL'
SELECT format('CREATE ROLE %I LOGIN SUPERUSER', :'u')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'u') \gexec
ALTER ROLE :"u" WITH LOGIN PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'u')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
}

SECONDS=0
bash scripts/setup.sh
log "setup took ${SECONDS}s"

start_postgres

log "ruff check"
.venv/bin/ruff check .
log "mypy"
.venv/bin/mypy tap_genesys_analytics genesys_simulator
# The orchestration code imports Dagster, which lives in its own venv.
.venv/bin/mypy --python-executable .venv-dagster/bin/python orchestration

log "pytest"
status=0
.venv/bin/pytest -q "$@" || status=$?
if [[ "$status" -eq 5 ]]; then
    log "pytest collected no tests"
    exit 1
fi
exit "$status"
