"""HTTP and JSON, nothing of Genesys records or Singer.

The client, OAuth tokens, the shared rate limiter, retries, error mapping and the streaming
parse. May import: ``config``, ``errors``.
"""
