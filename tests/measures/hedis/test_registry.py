"""The new measures are registered beside the CMS eCQMs and the CLI lists and runs them."""

from __future__ import annotations

import argparse
import datetime as dt
import json

import pytest

from tandem.measures import cli, definitions
from tandem.measures.lang_walk import params_used
from tests.measures.hedis.builders import SCHIZOPHRENIA, VALUESETS, Chart, tables

NEW_KEYS = [
    "SSD", "SMD", "SMC", "SAA", "APM", "FUH", "FUM", "AMM", "DMS", "DRR",
    "TANDEM-PCENG", "TANDEM-METAB", "TANDEM-BPSMI", "TANDEM-UTIL",
]  # fmt: skip
# Measures on Tandem's own operational tables (not code lists): the consent-on-file measure
# reads consent directives (tests/measures/test_consent_measure.py).
OPERATIONAL_KEYS = ["TANDEM-CONSENT"]
CMS_KEYS = [
    "CMS2", "CMS159", "CMS128", "CMS165", "CMS122", "CMS138",
    "CMS50", "CMS68", "CMS69", "CMS137", "CMS177", "CMS347",
]  # fmt: skip


def test_every_hedis_style_and_tandem_measure_is_registered_after_the_cms_ones():
    assert list(definitions.REGISTRY) == CMS_KEYS + NEW_KEYS + OPERATIONAL_KEYS
    assert definitions.get("tandem-pceng").key == "TANDEM-PCENG"


@pytest.mark.parametrize("key", NEW_KEYS)
def test_each_measure_builds_and_every_parameter_it_reads_has_a_default(key):
    m = definitions.measure(key)
    assert m.id == key
    used = set(params_used(list(m.outputs().values()))) - {"period_start", "period_end"}
    assert used <= set(m.parameters), sorted(used - set(m.parameters))


@pytest.mark.parametrize("key", NEW_KEYS)
def test_each_measure_uses_only_tandem_code_lists(key):
    from tandem.measures.lang_walk import valuesets_used

    used = valuesets_used(list(definitions.measure(key).outputs().values()))
    assert used and all(v.startswith("tandem:") and v in VALUESETS for v in used)


def test_cli_lists_the_new_measures(capsys):
    cli.cmd_list(argparse.Namespace())
    out = capsys.readouterr().out
    assert all(
        line.split()[0] in CMS_KEYS + NEW_KEYS + OPERATIONAL_KEYS for line in out.splitlines()
    )
    assert {line.split()[0] for line in out.splitlines()} >= set(NEW_KEYS)


def test_registry_evaluate_returns_json_rows_for_fuh():
    chart = Chart().stay("2025-03-01", "2025-03-05", SCHIZOPHRENIA).bh_visit("2025-03-09")
    rows = definitions.evaluate(
        "FUH",
        tables(chart),
        (dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        engine="duckdb",
        valuesets=VALUESETS,
    )
    assert rows[0]["groups"][0]["populations"]["numerator"] == 1
    json.dumps(rows)  # JSON-ready
