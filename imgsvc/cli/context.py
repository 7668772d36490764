"""What every command receives in ``ctx.obj``: the settings, and a service built
only when a command needs one (``serve`` builds its own in each worker process)."""

from __future__ import annotations

import click

from ..service import ImageService
from ..settings import Settings
from ..storage import create_storage


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._service: ImageService | None = None

    @property
    def service(self) -> ImageService:
        if self._service is None:
            self._service = ImageService(self.settings, create_storage(self.settings))
        return self._service

    def close(self) -> None:
        """Waits for the service's uploads and janitor before the process exits."""
        if self._service is not None:
            self._service.close()


pass_ctx = click.make_pass_decorator(Context)
