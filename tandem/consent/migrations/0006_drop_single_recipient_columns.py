"""Drop the single-recipient columns of consent directives, converted by 0005."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("consent", "0005_directives_with_recipients_and_versions")]

    operations = [
        migrations.RemoveConstraint(
            model_name="consentdirective",
            name="consent_recipient_given",
        ),
        migrations.RemoveIndex(
            model_name="consentdirective",
            name="consent_con_patient_9d2751_idx",
        ),
        migrations.RemoveField(
            model_name="consentdirective",
            name="category",
        ),
        migrations.RemoveField(
            model_name="consentdirective",
            name="purpose",
        ),
        migrations.RemoveField(
            model_name="consentdirective",
            name="recipient_kind",
        ),
        migrations.RemoveField(
            model_name="consentdirective",
            name="recipient_organization",
        ),
        migrations.RemoveField(
            model_name="consentdirective",
            name="recipient_practitioner",
        ),
        migrations.RemoveField(
            model_name="consentdirective",
            name="recipient_role",
        ),
    ]
