"""Dagster orchestration of the Meltano project (definitions.py; backfill.py runs it headless)."""
