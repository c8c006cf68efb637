"""Statement statistics per service (issue 16): sampling pg_stat_statements, deltas, attribution, texts."""
