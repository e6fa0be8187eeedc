"""The tap's settings are listed the same way everywhere a user or Meltano reads them.

Sources kept in sync with ``TapGenesysAnalytics.config_jsonschema``: ``meltano.yml``, the Meltano
Hub variant definition, the README settings table (the ``--about --format=markdown`` output) and
``.env.example``. ``client_secret`` must be secret in each of them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tap_genesys_analytics.config.settings import BOUNDS
from tap_genesys_analytics.tap import TapGenesysAnalytics

ROOT = Path(__file__).resolve().parents[1]
ENV_PREFIX = "TAP_GENESYS_ANALYTICS_"
SENSITIVE_SETTING = "client_secret"

KIND_OF_TYPE = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def _builtin_settings() -> set[str]:
    """Names of the settings the SDK adds for the tap's capabilities (stream maps, ...)."""
    probe: dict[str, Any] = {"type": "object", "properties": {}}
    TapGenesysAnalytics.append_builtin_config(probe)
    return set(probe["properties"])


BUILTIN = _builtin_settings()
PROPERTIES: dict[str, dict[str, Any]] = {
    name: schema
    for name, schema in TapGenesysAnalytics.config_jsonschema["properties"].items()
    if name not in BUILTIN
}
NAMES = list(PROPERTIES)
#: singer-sdk's own settings that the plugin definitions declare after the tap's, so Meltano
#: passes them on (it only passes declared settings).
SDK_DECLARED = ["stream_maps", "stream_map_config", "flattening_enabled", "flattening_max_depth"]


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _meltano_extractor() -> dict[str, Any]:
    project = _load_yaml(ROOT / "meltano.yml")
    extractors = project["plugins"]["extractors"]
    (plugin,) = [p for p in extractors if p["name"] == "tap-genesys-analytics"]
    return dict(plugin)


def _hub_definition() -> dict[str, Any]:
    return dict(_load_yaml(ROOT / "meltano-hub" / "tap-genesys-analytics.yml"))


def _expected_kind(schema: dict[str, Any]) -> str:
    if schema.get("secret"):
        return "password"
    if schema.get("format") == "date-time":
        return "date_iso8601"
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    (json_type,) = [t for t in types if t != "null"]
    return KIND_OF_TYPE[json_type]


def _table_rows(markdown: str) -> list[str]:
    """Setting names of the first settings table in ``markdown``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Setting |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1].strip())
    return rows


def _readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def _about_markdown() -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "tap_genesys_analytics", "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return proc.stdout


def test_schema_has_settings_and_one_secret() -> None:
    assert "client_id" in NAMES
    assert len(NAMES) == len(set(NAMES))
    assert {n for n, s in PROPERTIES.items() if s.get("secret")} == {SENSITIVE_SETTING}


def test_every_numeric_setting_shows_the_range_settings_enforce() -> None:
    numeric = {
        name
        for name, schema in PROPERTIES.items()
        if {"integer", "number"} & set(schema["type"] if isinstance(schema["type"], list) else [])
    }
    assert numeric == set(BOUNDS), "a numeric setting without a range, or a range without one"
    for name, (minimum, maximum) in BOUNDS.items():
        assert PROPERTIES[name]["minimum"] == minimum, name
        assert PROPERTIES[name].get("maximum") == maximum, name


@pytest.mark.parametrize("source", ["meltano.yml", "meltano-hub"])
def test_plugin_definition_settings_match_schema(source: str) -> None:
    plugin = _meltano_extractor() if source == "meltano.yml" else _hub_definition()
    settings = {s["name"]: s for s in plugin["settings"]}

    assert [s["name"] for s in plugin["settings"]] == NAMES + SDK_DECLARED
    assert set(SDK_DECLARED) <= BUILTIN
    for name, schema in PROPERTIES.items():
        setting = settings[name]
        assert setting["kind"] == _expected_kind(schema), name
        assert setting.get("label"), name
        assert setting["description"] == schema["description"], name
        if schema.get("default") is not None:
            assert setting.get("value") == schema["default"], name
        assert bool(setting.get("sensitive")) == bool(schema.get("secret")), name
    assert settings[SENSITIVE_SETTING]["sensitive"] is True
    required = TapGenesysAnalytics.config_jsonschema["required"]
    assert plugin["settings_group_validation"] == [required]
    assert plugin["namespace"] == "tap_genesys_analytics"
    assert plugin["executable"] == "tap-genesys-analytics"


def test_meltano_yml_capabilities_and_simulator_config() -> None:
    plugin = _meltano_extractor()
    assert set(plugin["capabilities"]) == {
        "catalog",
        "discover",
        "state",
        "about",
        "stream-maps",
        "schema-flattening",
    }
    assert set(plugin["capabilities"]) <= {c.value for c in TapGenesysAnalytics.capabilities}
    assert set(plugin["config"]) <= set(NAMES)
    assert plugin["config"]["api_url"] == "http://127.0.0.1:8765"


def test_readme_settings_table_is_the_about_output() -> None:
    readme_rows = _table_rows(_readme_section("Settings"))
    about_rows = _table_rows(_about_markdown())

    assert readme_rows == about_rows, "paste the table of `--about --format=markdown` again"
    top_level = [row for row in readme_rows if "." not in row]
    assert [row for row in top_level if row not in BUILTIN] == NAMES


def test_readme_says_client_secret_is_sensitive() -> None:
    section = _readme_section("Settings")
    assert re.search(r"`client_secret`[^.]*\bsecret\b[^.]*\bsensitive\b", section)


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assigned = re.findall(rf"^#?\s*{ENV_PREFIX}([A-Z0-9_]+)=(.*)$", text, re.M)
    names = [name.lower() for name, _ in assigned]

    assert names == NAMES
    values = {name.lower(): value.strip() for name, value in assigned}
    assert values[SENSITIVE_SETTING] == "", ".env.example must not hold a secret value"
