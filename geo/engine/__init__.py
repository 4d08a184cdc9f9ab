"""The engine: one engine per mode (streets, transit) behind the ``Accessibility`` facade.

Also isochrones, coverage shares and supply (E2SFCA).
"""
