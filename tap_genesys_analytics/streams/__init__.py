"""Singer streams: thin classes per entity family, wiring the readers and the algorithm to the SDK.

``sdk`` is the one module that touches singer-sdk's private API. May import everything below
it: ``extract``, ``genesys``, ``http``, ``config``.
"""
