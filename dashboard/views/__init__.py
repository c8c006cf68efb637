"""The live side's screens, one module per screen: each reads snapshots (dashboard.snapshots) and history rows, never
a monitored server, and serves its page and, to htmx, its partial (``catalog.http.partial``). They import no reader
(an import contract, see pyproject.toml), and no view module imports another."""
