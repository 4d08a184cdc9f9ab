"""Public transport: timetables from GTFS, the earliest-arrival scan and its queries.

Also journeys there and back within opening hours, and ÖV-Güteklassen.
"""
