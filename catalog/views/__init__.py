"""The ownership side's screens, one module per screen: each view serves its page and, to htmx, its partial
(``catalog.http.partial``). Views read the catalog and the run lifecycles, never a monitored cluster: they import no
reader (an import contract, see pyproject.toml), and no view module imports another."""
