"""Readers of the raw data and the ``layers build`` job.

OSM vector tiles and extracts, downloads, BKG boundaries, census grids, offer files, GTFS
feeds and the address index.
"""
