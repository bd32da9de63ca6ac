"""Quality measures: the measure language, its engines and the analytic tables."""

from typing import Any

__all__ = ["evaluate", "evaluate_dataset", "evaluate_many"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing tandem.measures.schema stays cheap (no engine imports).
    if name in ("evaluate", "evaluate_dataset", "evaluate_many"):
        from tandem.measures import evaluation

        return getattr(evaluation, name)
    raise AttributeError(name)
