"""Data migration: runs stored before measures were versioned were computed with the logic
that is now the 2025 version of their measure (CMS122 -> CMS122v13) or, for Tandem's
HEDIS-style and own measures, their only version (SSD -> SSDv1).

The mapping is frozen here (not read from the registry, which will grow). A run of a measure
key Tandem never registered keeps an empty version. Reversing leaves the versions in place
(0002's reverse drops the column).
"""

from django.db import migrations

VERSION_OF_UNVERSIONED_RUNS = {
    "CMS2": "CMS2v14",
    "CMS159": "CMS159v13",
    "CMS128": "CMS128v13",
    "CMS165": "CMS165v13",
    "CMS122": "CMS122v13",
    "CMS138": "CMS138v13",
    **{
        key: f"{key}v1"
        for key in (
            "SSD", "SMD", "SMC", "SAA", "APM", "FUH", "FUM", "AMM", "DMS", "DRR",
            "TANDEM-PCENG", "TANDEM-METAB", "TANDEM-BPSMI", "TANDEM-UTIL",
        )
    },
}  # fmt: skip


def record_versions(apps, schema_editor):
    MeasureRun = apps.get_model("measures", "MeasureRun")
    for key, version in VERSION_OF_UNVERSIONED_RUNS.items():
        MeasureRun.objects.filter(measure=key, version="").update(version=version)


class Migration(migrations.Migration):
    dependencies = [
        ("measures", "0002_measurerun_version"),
    ]

    operations = [
        migrations.RunPython(record_versions, migrations.RunPython.noop),
    ]
