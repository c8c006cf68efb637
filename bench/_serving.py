"""Settings for the load benchmark's web server: Seamline's own, with one more URL, the **floor**: a login-required
view that returns a constant through every middleware, so that a live page's cost can be set beside the least any
page of the site can cost (bench/load.py). Not a benchmark itself (its name starts with "_")."""

from dashboard.settings import *  # noqa: F403 - the site's settings, unchanged but for the URLconf

ROOT_URLCONF = "bench._serving_urls"
SERVER_TIMING = True
