"""Public transport on GTFS feeds: walks, timetables, the connection scan, queries, quality."""
