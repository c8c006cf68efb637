"""The Celery app: Redis broker, Django settings under the CELERY_ prefix, tasks found in each app's tasks.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("seamline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
