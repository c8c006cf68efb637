from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser, no_translations

from catalog import ownership_map
from catalog.map_view import MAX_DEPTH, SERVICE, TEAM, InvalidQuery, Query


class Command(BaseCommand):
    help = (
        "Print the ownership map: services, what they own, and every cross-service path (view, fk, grant, function); "
        "grouped by team, or a service's neighbourhood."
    )

    requires_system_checks = []  # scripted and fast: no need to import the web side first

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cluster", help="only this cluster")
        parser.add_argument("--format", choices=ownership_map.FORMATS, default="json")
        parser.add_argument(
            "--group-by",
            choices=[TEAM, SERVICE],
            default=SERVICE,
            help="team: one node per team (plus (no team) and (unowned)), an edge per ordered pair of teams with its "
            "number of paths; paths inside a team are counted on it (default: service)",
        )
        parser.add_argument("--expand", action="append", default=[], metavar="TEAM", help="with --group-by team: "
                            "show this team's services (repeatable)")  # fmt: skip
        parser.add_argument("--focus", metavar="SERVICE", help="only the services within --depth hops of this one")
        parser.add_argument("--depth", type=int, default=1, help=f"hops from --focus, 1 to {MAX_DEPTH} (default: 1)")

    @no_translations  # a script's output and errors in one language, whatever the process had active
    def handle(self, *args, cluster: str | None, format: str, group_by: str, expand: list[str], focus: str | None,
               depth: int, **options) -> None:  # fmt: skip
        try:
            query = Query.of(group_by, cluster, focus, depth, expand)  # checked as the web map's parameters are
            self.stdout.write(ownership_map.render(format, query), ending="")
        except InvalidQuery as exc:
            raise CommandError(str(exc)) from exc
