"""Create the single chain-head row, so writers can lock it (SELECT … FOR UPDATE) from the start."""

from django.db import migrations


def create_head(apps, schema_editor):
    head = apps.get_model("audit", "AuditChainHead")
    head.objects.get_or_create(singleton=1)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
