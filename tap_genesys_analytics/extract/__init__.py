"""The extraction algorithm, which knows neither HTTP details nor Singer.

Run planning, the bookmark, the job reader (paging, pipelining), the query tail, completeness
and re-reads, the record filter (window, dedup, day counts, live conversations) and progress.
It is handed an :class:`~.spec.ExtractSpec` (how to read one kind of record) and a callback that
writes STATE. May import: ``genesys`` (its readers and their errors), ``config``, ``windows``,
``errors``, and of ``http`` only ``Page`` (the envelope scalars a reader fills).
"""
