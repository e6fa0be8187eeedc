"""Singer tap for Genesys Cloud Analytics."""
