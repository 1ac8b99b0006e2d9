"""FastAPI dependencies shared by every router.

The container (settings, store, auth and the providers) lives on `app.state.container`; routes
receive what they need through these Annotated dependencies, never by building it themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from wingman.errors import Unauthorized
from wingman.store.records import UserRecord, Viewer
from wingman.store.repos import Store

if TYPE_CHECKING:
    from wingman.container import Container


def get_container(request: Request) -> Container:
    """The application's container (503 while the app is still starting)."""
    container = getattr(request.app.state, "container", None)
    if container is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the server is starting")
    return container  # type: ignore[no-any-return]


if TYPE_CHECKING:
    ContainerDep = Annotated[Container, Depends(get_container)]
else:  # FastAPI resolves annotations at runtime; the container module need not be imported
    ContainerDep = Annotated[Any, Depends(get_container)]


def get_store(container: ContainerDep) -> Store:
    return container.store


StoreDep = Annotated[Store, Depends(get_store)]

bearer = HTTPBearer(
    auto_error=False,
    description="A token from /api/auth/login or /api/auth/register (optional in local mode)",
)


def get_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str | None:
    """The raw Bearer token of the request, if any."""
    return credentials.credentials if credentials is not None else None


TokenDep = Annotated[str | None, Depends(get_token)]


def unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


async def get_current_user(container: ContainerDep, token: TokenDep) -> UserRecord:
    """The signed-in user (or the local user in local mode without a token); else 401."""
    try:
        return await container.auth.user_for_token(token)
    except Unauthorized as e:
        raise unauthorized(str(e)) from None


CurrentUser = Annotated[UserRecord, Depends(get_current_user)]


async def get_viewer(user: CurrentUser, store: StoreDep) -> Viewer:
    """Whose calls the signed-in user may read (own; their team's as a manager; all as admin)."""
    return await store.viewer(user)


CurrentViewer = Annotated[Viewer, Depends(get_viewer)]


def require_role(*roles: str) -> Any:
    """A dependency that lets only members with one of `roles` through (403 otherwise: the
    caller knows their own role, so this reveals nothing about other tenants)."""

    async def check(user: CurrentUser) -> UserRecord:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {' or '.join(roles)} role")
        return user

    return Depends(check)


Manager = Annotated[UserRecord, require_role("admin", "manager")]
Admin = Annotated[UserRecord, require_role("admin")]
