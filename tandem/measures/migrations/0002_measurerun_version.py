# Reviewed: a stored run records the measure version it evaluated (CMS122v13 = the 2025 logic).
# Existing rows get "" here and their 2025 version in 0003.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("measures", "0001_stored_results"),
    ]

    operations = [
        migrations.AddField(
            model_name="measurerun",
            name="version",
            field=models.CharField(
                default="",
                help_text="Measure version evaluated, e.g. CMS2v14 or SSDv1.",
                max_length=40,
            ),
            preserve_default=False,
        ),
    ]
