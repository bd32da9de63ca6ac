"""Care-team memberships carry a sensitivity label, like clinical rows (issue 9, item 1).

A membership in a Part 2 program named the program and its clinician on every summary: under
42 CFR Part 2 the fact that a person is a patient of the program is itself protected. The
column is added with a one-off ``normal`` for the rows already stored, each of them is then
labelled by ``tandem.consent.rules`` (by its program, else its practitioner's programs), and the
database checks the label from then on. New rows are labelled when they are saved (or, in bulk,
by the writer); the column keeps no default, so a path that forgets fails instead of writing
``normal``.
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


def label_existing_memberships(apps, schema_editor):
    from tandem.consent import rules

    rules.backfill(apps.get_model("core", "CareTeamMember"), rules.Units.load(apps.get_model))


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_links_to_patients_and_staff"),
    ]

    operations = [
        migrations.AddField(
            model_name="careteammember",
            name="sensitivity",
            field=models.CharField(choices=LABELS, default="normal", max_length=20),
            preserve_default=False,
        ),
        migrations.RunPython(label_existing_memberships, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="careteammember",
            constraint=models.CheckConstraint(
                condition=models.Q(sensitivity__in=[value for value, _ in LABELS]),
                name="careteammember_sensitivity_known",
            ),
        ),
    ]
