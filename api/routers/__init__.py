"""The API's routers, one per concern.

:func:`api.main.create_app` includes them in the order of :data:`ROUTERS`.
"""

from api.routers import (
    basemap,
    chain,
    coverage,
    family,
    maps,
    offers,
    page,
    planning,
    service,
    travel,
)

ROUTERS = (service.router, offers.router, travel.router, coverage.router, chain.router,
           maps.router, family.api, page.router, planning.router, basemap.router)
