"""The accessibility engine: one engine per travel mode behind a facade (``access``)."""
