#!/usr/bin/env python
"""Django's command-line utility for Seamline."""

import gc
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    finally:
        # The process is about to end: what it loaded is not garbage worth collecting. Without this the interpreter's
        # shutdown runs the cycle collector over every module, class and function Django imported, about 0.1 s that
        # every command (a sync, a cron job, a health check) pays after its work is done (bench/catalog_sync.py).
        gc.freeze()
