"""The live side's readers: every statement the sampler and session actions send to a monitored node, and nothing else.

One module per concern (activity, replication, session signals), each function one statement over an open connection
(``catalog.monitored.connect``: read-only, with timeouts) returning plain dataclasses, each statement a
``catalog.readers.statement.Statement`` whose columns are its row's fields. Ages are computed by the server against
its own clock (``clock_timestamp() - xact_start``), so a skewed clock on Seamline's side cannot make a transaction
look younger or older than it is.
"""
