"""Data migration: the seed (catalog/seed.py), so that every migrated database has it."""

from django.db import migrations


def forward(apps, schema_editor):
    from catalog.seed import seed

    seed(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
