#!/usr/bin/env bash
# Install everything the project needs: the tap's venv, Meltano's venv and the Meltano plugins.
# Safe to run again; it only redoes a step whose inputs changed. SETUP_FORCE=1 redoes all.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
FORCE="${SETUP_FORCE:-0}"
MELTANO_SPEC="${MELTANO_SPEC:-meltano>=4,<5}"
DAGSTER_SPEC="${DAGSTER_SPEC:-dagster>=1.13,<1.14}"

log() { printf 'setup: %s\n' "$*" >&2; }

fingerprint() {
    cat "$@" | sha256sum | cut -d' ' -f1
}

up_to_date() {
    local stamp="$1" want="$2"
    [[ "$FORCE" != "1" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]
}

pip_quiet() {
    "$@" --quiet --disable-pip-version-check 2> >(grep -v '^WARNING: Location' >&2)
}

# 1. The tap's own venv, with the test tools.
TAP_STAMP=".venv/.setup-stamp"
TAP_WANT="$(fingerprint pyproject.toml)"
if [[ ! -x .venv/bin/python ]]; then
    log "creating .venv"
    "$PYTHON" -m venv .venv
fi
if ! up_to_date "$TAP_STAMP" "$TAP_WANT" || [[ ! -x .venv/bin/tap-genesys-analytics ]]; then
    log "installing the tap into .venv"
    pip_quiet .venv/bin/python -m pip install -e ".[test]"
    printf '%s\n' "$TAP_WANT" > "$TAP_STAMP"
fi

# A tool in a venv of its own: create DIR, install SPEC unless its stamp says it is there.
tool_venv() {
    local dir="$1" spec="$2" exe="$3" stamp="$1/.setup-stamp"
    if [[ ! -x "$dir/bin/python" ]]; then
        log "creating $dir"
        "$PYTHON" -m venv "$dir"
    fi
    if ! up_to_date "$stamp" "$spec" || [[ ! -x "$dir/bin/$exe" ]]; then
        log "installing $exe into $dir"
        pip_quiet "$dir/bin/python" -m pip install "$spec"
        printf '%s\n' "$spec" > "$stamp"
    fi
}

# 2. Meltano in a venv of its own: its dependencies conflict with the tap's.
MELTANO_STAMP=".venv-meltano/.setup-stamp"
tool_venv .venv-meltano "$MELTANO_SPEC" meltano

# 3. Dagster, the orchestrator of orchestration/definitions.py, in a venv of its own too: it runs
#    `meltano run` as a subprocess and imports neither the tap nor Meltano.
tool_venv .venv-dagster "$DAGSTER_SPEC" dagster

# 4. The plugins of meltano.yml, each in its own venv under .meltano/.
PLUGINS_STAMP=".meltano/.setup-stamp"
PLUGINS_WANT="$(fingerprint meltano.yml pyproject.toml loaders/target-duckdb-exact/pyproject.toml "$MELTANO_STAMP")"
plugins_present() {
    local exe
    for exe in extractors/tap-genesys-analytics/venv/bin/tap-genesys-analytics \
        loaders/target-duckdb/venv/bin/target-duckdb-exact \
        loaders/target-jsonl/venv/bin/target-jsonl \
        loaders/target-postgres/venv/bin/target-postgres \
        loaders/target-csv/venv/bin/target-csv \
        loaders/target-snowflake/venv/bin/target-snowflake \
        utilities/dbt-duckdb/venv/bin/dbt \
        utilities/dbt-postgres/venv/bin/dbt; do
        [[ -x ".meltano/$exe" ]] || return 1
    done
}
if ! up_to_date "$PLUGINS_STAMP" "$PLUGINS_WANT" || ! plugins_present; then
    log "installing Meltano plugins into .meltano/"
    MELTANO_SEND_ANONYMOUS_USAGE_STATS=false .venv-meltano/bin/meltano --log-level=warning install
    printf '%s\n' "$PLUGINS_WANT" > "$PLUGINS_STAMP"
fi

# 5. fakesnow, the Snowflake emulator tests/test_snowflake_contract.py runs target-snowflake
#    against, in that loader's venv (the test only; Meltano runs the loader without it).
FAKESNOW_SPEC="${FAKESNOW_SPEC:-fakesnow==0.12.1}"
SNOWFLAKE_VENV=.meltano/loaders/target-snowflake/venv
if ! compgen -G "$SNOWFLAKE_VENV/lib/python*/site-packages/${FAKESNOW_SPEC/==/-}.dist-info" > /dev/null; then
    log "installing $FAKESNOW_SPEC into $SNOWFLAKE_VENV"
    .venv-meltano/bin/uv pip install --quiet --python "$SNOWFLAKE_VENV/bin/python" "$FAKESNOW_SPEC"
fi

mkdir -p output
log "ready (.venv, .venv-meltano, .venv-dagster, .meltano/)"
