"""Errors as the Docker API answers them: ``{"message": ...}`` with its status code."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from pyman import errors

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def status_of(exc: errors.PymanError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, (errors.ContainerNotFoundError, errors.ImageNotFoundError,
                        errors.VolumeNotFoundError, errors.PodNotFoundError)):
        return 404
    if isinstance(exc, (errors.ContainerExistsError, errors.ContainerStateError,
                        errors.VolumeExistsError)):
        return 409
    if isinstance(exc, errors.InvalidNameError):  # the client's input, as Docker's 400
        return 400
    return 500


def answer(status: int, message: str) -> web.Response:
    # "application/json" exactly, no charset: the docker CLI decodes the message only then
    return web.Response(body=json.dumps({"message": message}).encode(), status=status,
                        headers={"Content-Type": "application/json"})


class BadRequest(errors.PymanError):
    """A request the API cannot take as it is (400)."""


class ApiError(errors.PymanError):
    """An error with the status the API gives it (404 for a network, 409 in use ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404 and request.match_info.route.resource is None:
            # a path this service does not serve: say so, never hang (501, as the issue asks)
            return answer(501, f"{request.method} {request.path}: not implemented by pyman")
        if exc.status >= 400:
            return answer(exc.status, exc.reason)
        raise
    except BadRequest as exc:
        return answer(400, str(exc))
    except errors.PymanError as exc:
        return answer(status_of(exc), _worded(exc, request))


def _worded(exc: errors.PymanError, request: web.Request) -> str:
    """Docker's words where clients read them (docker-py makes ImageNotFound of a 404
    only when it says "No such image")."""
    info = request.match_info
    if isinstance(exc, errors.ContainerNotFoundError) and "id" in info:
        return f"No such container: {info['id']}"
    if isinstance(exc, errors.ImageNotFoundError):
        return f"No such image: {info.get('name') or request.query.get('fromImage', '')}"
    return str(exc)
