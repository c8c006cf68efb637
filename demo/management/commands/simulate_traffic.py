from __future__ import annotations

import signal
import threading
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo import simulator


class Command(BaseCommand):
    help = (
        "Run the demo traffic against databases shop and payments: four services, an analyst, and deliberate "
        "misbehaviour (leaked transactions, blocked sessions, slow queries, write bursts, replica lag)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--duration",
            type=float,
            default=None,
            metavar="SECONDS",
            help="stop after this long (default: run until stopped)",
        )

    def handle(self, *args: Any, duration: float | None = None, **options: Any) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: object) -> None:
            # Event.set() takes a lock the interrupted main thread may be holding inside Event.wait(): setting it
            # from the handler itself could deadlock, so hand it to a thread.
            threading.Thread(target=stop.set, name="sim-stop", daemon=True).start()

        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, request_stop) for sig in handled}
        try:
            simulator.run(settings.DEMO_PRIMARY, settings.DEMO_REPLICA, duration=duration, stop=stop, log=self.log)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def log(self, message: str) -> None:
        self.stdout.write(f"{datetime.now():%H:%M:%S} {message}")
        self.stdout.flush()  # a line at a time, also when the output is a pipe (make run, Procfile)
