import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
application = get_wsgi_application()


def _warm() -> None:
    """What Django otherwise does on a process' first request, done as the application loads: every view module
    imported (through the URLconf), every URL name known, the site's templates compiled, both languages' catalogs
    read. gunicorn loads the application once and forks its workers from it (``preload_app``), so no worker, new or
    recycled, makes a viewer wait for it: measured under the load benchmark, a worker's first request took 550-740 ms
    against 10 ms for the next ones."""
    from pathlib import Path

    from django.conf import settings
    from django.template.loader import get_template
    from django.urls import get_resolver, reverse
    from django.utils import translation

    reverse("healthz")  # the URLconf, its views, the reverse index
    get_resolver()
    for folder in settings.TEMPLATES[0]["DIRS"]:
        for path in sorted(Path(folder).rglob("*.html")):
            get_template(path.relative_to(folder).as_posix())
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            translation.gettext("Overview")


_warm()
