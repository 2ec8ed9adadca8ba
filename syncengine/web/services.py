"""FastAPI dependencies: the container, as the lifespan put it on the app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from syncengine.bootstrap import Container

__all__ = ["ContainerDep", "get_container"]


def get_container(request: Request) -> Container:
    """The engine's container."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
