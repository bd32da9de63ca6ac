"""Label encounters and appointments that have no program by their site, else practitioner.

Rule change of issue 9, item 1 (``tandem.consent.rules.UNIT_FIELDS``): a row without a program
belongs to its site, and a row with neither to its practitioner, so an appointment booked at a
Part 2 site without a program is ``substance-use`` like the program's own. Rows with a program
keep their label; among the others, a Part 2 site or practitioner makes a row
``substance-use`` (psychotherapy notes stay theirs) and a behavioral one makes a ``normal`` row
``mental-health`` — the order of the rules. The synthetic writer always sets a program, so on
its databases this changes nothing.
"""

from django.db import migrations

MODELS = [("clinical", "Encounter"), ("scheduling", "Appointment")]


def label_rows_without_a_program(apps, schema_editor):
    from tandem.consent import rules

    units = rules.Units.load(apps.get_model)
    for app_label, name in MODELS:
        rules.backfill(apps.get_model(app_label, name), units)


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0003_label_consent_directives"),
        ("clinical", "0003_observation_panel_index"),
        ("scheduling", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(label_rows_without_a_program, migrations.RunPython.noop),
    ]
