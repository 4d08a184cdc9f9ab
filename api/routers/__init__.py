"""The API's routers, one per concern.

:func:`api.main.create_app` includes them in the order of :data:`ROUTERS`.
"""

from api.routers import chain, coverage, maps, offers, page, service, travel

ROUTERS = (service.router, offers.router, travel.router, coverage.router, chain.router,
           maps.router, page.router)
