"""HEDIS-style measures for people with mental illness (NCQA specifications not seen).

The definitions are split by concept: ``hedis_smi`` (SSD, SMD, SMC, SAA, APM),
``hedis_followup`` (FUH, FUM) and ``hedis_depression`` (AMM, DMS, DRR); shared building
blocks (the SMI cohort step, continuous enrollment, hospice) are in ``hedis_common``.
"""

from __future__ import annotations

from tandem.measures.definitions.hedis_depression import amm, dms, drr
from tandem.measures.definitions.hedis_followup import event_rates, fuh, fum
from tandem.measures.definitions.hedis_smi import apm, saa, smc, smd, ssd

__all__ = ["amm", "apm", "dms", "drr", "event_rates", "fuh", "fum", "saa", "smc", "smd", "ssd"]
