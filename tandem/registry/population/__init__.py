"""The registry's population side: cohort lists (F1) and the risk score (F5).

``queries.py`` holds the set-based reads (risk inputs, cohort lists through the gate) and the
maintenance of the derived tables the daily refresh rebuilds; ``views.py``, ``forms.py`` and
``api.py`` the cohort pages and the ``/api/cohorts`` router. The writes themselves are
``tandem.registry.services.rebuild_cohorts`` / ``rebuild_risk``.
"""
