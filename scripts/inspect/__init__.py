"""Read-only views of the records: the dashboard's data and HTML, compare, report, verify, live,
and make's own dag and status. Nothing here writes a record."""
