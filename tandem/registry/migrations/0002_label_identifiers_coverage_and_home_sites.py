"""Identifiers, coverage spans and patients' home sites carry a sensitivity label (issue 9, 1).

An MRN issued by a Part 2 site ("… (New Path Recovery Services)") told every reader of the
summary that the person is a patient of the program; a home site names a site in the summary's
header and in patient lists. The columns are added with a one-off ``normal`` for the rows
already stored; then ``tandem.consent.rules`` labels each identifier from the site that issued
it, each coverage span from its payer and each patient's home site from that site, and the
database checks the labels from then on. The columns keep no default (see core 0003).
"""

from django.db import migrations, models

LABELS = [
    ("normal", "Normal"),
    ("mental-health", "Mental health"),
    ("substance-use", "Substance use (42 CFR Part 2)"),
    ("psychotherapy-note", "Psychotherapy note"),
    ("hiv", "HIV"),
    ("reproductive-health", "Reproductive health"),
]


def label_existing_rows(apps, schema_editor):
    from tandem.consent import rules

    units = rules.Units.load(apps.get_model)
    for name in ("PatientIdentifier", "Coverage", "Patient"):
        rules.backfill(apps.get_model("registry", name), units)


def label_check(model_name):
    return models.CheckConstraint(
        condition=models.Q(sensitivity__in=[value for value, _ in LABELS]),
        name=f"{model_name}_sensitivity_known",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_links_to_patients_and_staff"),
        ("registry", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="patientidentifier",
            name="sensitivity",
            field=models.CharField(choices=LABELS, default="normal", max_length=20),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="coverage",
            name="sensitivity",
            field=models.CharField(choices=LABELS, default="normal", max_length=20),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="patient",
            name="home_site_sensitivity",
            field=models.CharField(
                choices=LABELS,
                default="normal",
                help_text="What naming the home site reveals (``tandem.consent.rules``): a Part 2 "
                "or mental-health center is withheld from readers who may not know of it.",
                max_length=20,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(label_existing_rows, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="patientidentifier", constraint=label_check("patientidentifier")
        ),
        migrations.AddConstraint(model_name="coverage", constraint=label_check("coverage")),
        migrations.AddConstraint(
            model_name="patient",
            constraint=models.CheckConstraint(
                condition=models.Q(home_site_sensitivity__in=[value for value, _ in LABELS]),
                name="patient_home_site_sensitivity_known",
            ),
        ),
    ]
