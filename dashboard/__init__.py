# The Celery app (dashboard.celery) is imported where tasks are sent or run: `celery -A dashboard` finds it, and
# every tasks module imports it first (catalog's through settings.CELERY_APP). Not importing it here keeps Celery out
# of commands that send no task, such as `manage.py sync`, which scripts run often.
