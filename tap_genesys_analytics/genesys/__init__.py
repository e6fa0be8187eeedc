"""The Genesys Cloud API's shapes; nothing of Singer.

Async jobs, the details query, users, aggregates, directory listings and the child rows of a
conversation record. May import: ``http``, ``config``, ``windows``, ``errors``.
"""
