"""``erreichbar serve``: uvicorn on the app factory, the settings carried in the factory.

uvicorn gets ``functools.partial(create_app, settings)`` and ``factory=True``: with one
worker it calls it in this process; with more, each spawned worker receives the pickled
config, factory and settings included, and calls it there. Nothing goes through
``os.environ``.
"""

from __future__ import annotations

import functools
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

from api.main import create_app
from api.services import check_inputs
from geo.settings import Settings


def config(settings: Settings, host: str, port: int, workers: int) -> uvicorn.Config:
    """Return the uvicorn config of the API on ``settings``.

    No access log: no family addresses or coordinates in logs.
    """
    return uvicorn.Config(functools.partial(create_app, settings), factory=True, host=host,
                          port=port, workers=workers, access_log=False, log_level="info")


def serve(settings: Settings, host: str | None = None, port: int | None = None,
          workers: int | None = None) -> None:
    """Serve the API until stopped (defaults from :class:`~geo.settings.ApiSettings`).

    Raises
    ------
    DataError
        The data directory lacks the region's inputs (checked before the server starts).
    """
    check_inputs(settings)
    cfg = config(settings, host or settings.api.host, port or settings.api.port,
                 workers or settings.api.workers)
    sys.stderr.write(f"Erreichbar: http://{cfg.host}:{cfg.port}/  "
                     f"(API docs: http://{cfg.host}:{cfg.port}/docs)\n")
    if cfg.workers > 1:
        Multiprocess(cfg, sockets=[cfg.bind_socket()]).run()
    else:
        uvicorn.Server(cfg).run()
