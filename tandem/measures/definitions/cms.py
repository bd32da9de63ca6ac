"""The CMS electronic clinical quality measures Tandem evaluates (2024 QI-Core versions).

Each entry builds a :class:`tandem.measures.language.Measure`; the logic lives in
``cms_behavioral`` (CMS2, CMS159, CMS128) and ``cms_chronic`` (CMS165, CMS122, CMS138).
"""

from __future__ import annotations

from tandem.measures.definitions.cms_behavioral import cms2, cms128, cms159
from tandem.measures.definitions.cms_chronic import cms122, cms138, cms165

__all__ = ["cms2", "cms122", "cms128", "cms138", "cms159", "cms165"]
