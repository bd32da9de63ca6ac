"""Consent directives carry a sensitivity label: their category (issue 9, item 1).

A directive to share substance-use records says that the patient has some. The column is added
with a one-off ``normal`` for the rows already stored, each directive is then labelled by
``tandem.consent.rules`` (its category), and the database checks the label from then on. The
column keeps no default (see core 0003).
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


def label_existing_directives(apps, schema_editor):
    from tandem.consent import rules

    rules.backfill(apps.get_model("consent", "ConsentDirective"), rules.Units.load(apps.get_model))


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0002_links_to_patients_and_staff"),
        ("core", "0002_links_to_patients_and_staff"),
    ]

    operations = [
        migrations.AddField(
            model_name="consentdirective",
            name="sensitivity",
            field=models.CharField(choices=LABELS, default="normal", max_length=20),
            preserve_default=False,
        ),
        migrations.RunPython(label_existing_directives, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="consentdirective",
            constraint=models.CheckConstraint(
                condition=models.Q(sensitivity__in=[value for value, _ in LABELS]),
                name="consentdirective_sensitivity_known",
            ),
        ),
    ]
