"""``python -m api``: serve the API with uvicorn."""

from __future__ import annotations

import uvicorn

from api.bootstrap import create_app
from api.settings import ApiSettings
from common import logging


def main() -> None:
    settings = ApiSettings()
    logging.configure("api", settings.log_level, settings.log_json)
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
