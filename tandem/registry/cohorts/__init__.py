"""The registry's cohort lists (F1): pages, CSV export, saved filters and the
``/api/cohorts`` router. Reads are ``queries.py`` (through ``consent.gate``); the members are
rebuilt by ``tandem.registry.services.rebuild_cohorts``.
"""
