"""The consent step of the daily refresh: directives past their end date are marked expired."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from tandem.consent import services


def expire_directives(*, as_of: dt.date, progress: Callable[[str], None]) -> dict[str, int]:
    """Mark active directives that ended before ``as_of`` as expired (versioned, audited).

    The gate does not wait for this: it reads the dates itself, in the site time zone."""
    progress("Expiring consent directives")
    return {"expired": services.expire_directives(today=as_of)}
