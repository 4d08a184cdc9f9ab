"""Products for people: maps, mobility reports, best new sites, the Kita → Grundschule view.

Templates and the bundled Leaflet assets live here too.
"""
