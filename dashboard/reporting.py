"""What an error report may show of the settings (Django's technical 500 page with debug on, and the reports mailed to
admins): Django's filter hides settings named like a secret (KEY, PASS, TOKEN...); Seamline's also hides those whose
value can carry one inside a URL or DSN (Redis's URL, the broker's and the result backend's, a cache's location)."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretsHidden(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|BROKER|BACKEND|DSN|LOCATION|HOST_USER", flags=re.I
    )
