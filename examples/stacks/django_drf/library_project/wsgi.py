"""WSGI entry point: `library_project.wsgi:application`.

As in any Django deployment, the tables are created by `python manage.py migrate` before the
service starts; the data migration catalog/0002_seed seeds them (the user gates@example.com,
its API token, the sample catalog). Under pytest-django every test database is migrated, so it
has the seed too. Importing this module touches no database.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "library_project.settings")

application = get_wsgi_application()
