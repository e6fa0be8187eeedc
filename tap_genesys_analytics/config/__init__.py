"""Settings: the one place that reads the raw config, validates it once and names what to fix.

May import: ``windows`` and ``errors``. Nothing here knows HTTP, Genesys records or Singer
messages; the tap turns the same table of settings into its config schema.
"""
