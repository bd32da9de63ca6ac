"""Background jobs: the daily refresh as a pipeline of steps, its history, the queue (django-q2).

See ``docs/architecture.md`` (Background jobs) and ADR 0006.
"""
