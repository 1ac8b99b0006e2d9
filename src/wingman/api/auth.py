"""REST: register, login, logout, "who am I", and the user's own account (sign out
everywhere, password change, deletion)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from wingman.api.deps import ContainerDep, CurrentUser, TokenDep, unauthorized
from wingman.auth import MAX_PASSWORD, SignupClosed, TokenGrant, TooManyAttempts
from wingman.errors import BadInput, Unauthorized, WingmanError
from wingman.store.records import Role, UserRecord

router = APIRouter(prefix="/api", tags=["auth"])


class RegisterIn(BaseModel):
    email: str = Field(max_length=320)
    name: str = Field("", max_length=200)
    password: str = Field(max_length=MAX_PASSWORD)
    workspace_name: str = Field("", max_length=200, description="the new workspace's name")


class LoginIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=MAX_PASSWORD)


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    created_at: datetime
    workspace_id: str
    role: Role
    manager_id: str | None = None

    @classmethod
    def of(cls, user: UserRecord) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            created_at=user.created_at,
            workspace_id=user.workspace_id,
            role=user.role,
            manager_id=user.manager_id,
        )


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut

    @classmethod
    def of(cls, grant: TokenGrant) -> TokenOut:
        return cls(token=grant.token, expires_at=grant.expires_at, user=UserOut.of(grant.user))


def client_address(request: Request) -> str:
    """The client's address: the peer, or behind `trusted_proxies` the forwarded client
    (WingmanApp puts it in the ASGI scope)."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenOut,
    responses={
        400: {"description": "invalid email or password, or no account can be made (one answer for all)"},
        403: {"description": "sign-up is by invitation (open sign-up is off)"},
        429: {"description": "too many sign-ups from this address; see Retry-After"},
    },
)
async def register(body: RegisterIn, container: ContainerDep, request: Request) -> Response | TokenOut:
    """Create an account, as the admin of a new workspace, and return a token for it. Only
    the first account of a fresh install may register unless WINGMAN_OPEN_SIGNUP is on;
    everyone else joins a workspace through an invitation (/api/invitations/accept). An email
    that has an account gets the same answer as any other refusal, so the answer does not
    tell which emails exist."""
    try:
        grant = await container.auth.register(
            email=body.email,
            name=body.name,
            password=body.password,
            workspace_name=body.workspace_name,
            client=client_address(request),
        )
    except SignupClosed as e:
        return JSONResponse({"detail": str(e), "code": e.code}, status_code=status.HTTP_403_FORBIDDEN)
    except BadInput as e:
        return JSONResponse({"detail": str(e), "code": e.code}, status_code=status.HTTP_400_BAD_REQUEST)
    except TooManyAttempts as e:
        return JSONResponse(
            {"detail": str(e), "code": e.code},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(e.retry_after)},
        )
    return TokenOut.of(grant)


@router.post(
    "/auth/login",
    responses={
        401: {"description": "wrong email or password"},
        429: {"description": "too many failed sign-ins; see Retry-After"},
    },
)
async def login(body: LoginIn, container: ContainerDep, request: Request) -> TokenOut:
    """Exchange email and password for a token. Repeated failures for one email from one
    address get 429 with a Retry-After header for a minute."""
    try:
        grant = await container.auth.login(
            email=body.email, password=body.password, client=client_address(request)
        )
    except TooManyAttempts as e:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, str(e), headers={"Retry-After": str(e.retry_after)}
        ) from None
    except Unauthorized as e:
        raise unauthorized(str(e)) from None
    return TokenOut.of(grant)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: {"description": "no valid token"}},
)
async def logout(container: ContainerDep, token: TokenDep) -> Response:
    """Revoke the request's token. Without one: nothing to do in local mode, 401 otherwise."""
    if token is None:
        if container.auth.mode != "local":
            raise unauthorized("sign in first")
    else:
        try:
            await container.auth.logout(token)
        except Unauthorized as e:
            raise unauthorized(str(e)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/auth/me", responses={401: {"description": "no valid token"}})
async def me(user: CurrentUser) -> UserOut:
    """The signed-in user (the built-in local user in local mode without a token)."""
    return UserOut.of(user)


# -- the signed-in user's own account: sessions, password, deletion

ACCOUNT_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"description": "bad input, or an account without a password (local mode)"},
    401: {"description": "no valid token"},
    403: {"description": "the current password is wrong"},
    429: {"description": "too many password attempts; see Retry-After"},
}


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=MAX_PASSWORD)
    new_password: str = Field(max_length=MAX_PASSWORD)


class PasswordIn(BaseModel):
    password: str = Field(max_length=MAX_PASSWORD, description="the account's current password")


class SignedOutOut(BaseModel):
    sessions_ended: int


def _refused(e: WingmanError) -> JSONResponse:
    """A wrong current password is a 403, not a 401: the caller's session is still valid."""
    if isinstance(e, TooManyAttempts):
        return JSONResponse({"detail": str(e), "code": e.code}, status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                            headers={"Retry-After": str(e.retry_after)})
    return JSONResponse({"detail": "the current password is wrong", "code": "wrong_password"},
                        status_code=status.HTTP_403_FORBIDDEN)


@router.post("/auth/logout-everywhere", responses={401: {"description": "no valid token"}})
async def logout_everywhere(user: CurrentUser, container: ContainerDep) -> SignedOutOut:
    """End every session of the signed-in user, this one included: each token is revoked and
    sockets open with them are closed (on other nodes within `revocation_check_seconds`)."""
    return SignedOutOut(sessions_ended=await container.auth.sign_out_everywhere(user))


@router.post("/auth/password", response_model=TokenOut, responses=ACCOUNT_ERRORS)
async def change_password(
    body: PasswordChangeIn, user: CurrentUser, container: ContainerDep, request: Request
) -> Response | TokenOut:
    """Change the password: the current one is asked again (failures count like sign-ins).
    Every session ends, this one too; the answer carries a new token for this one."""
    try:
        grant = await container.auth.change_password(
            user, current=body.current_password, new=body.new_password, client=client_address(request)
        )
    except (Unauthorized, TooManyAttempts) as e:
        return _refused(e)
    return TokenOut.of(grant)


@router.delete(
    "/auth/account",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ACCOUNT_ERRORS, 409: {"description": "the only admin of a workspace with other members"}},
)
async def delete_account(
    body: PasswordIn, user: CurrentUser, container: ContainerDep, request: Request
) -> Response:
    """Delete the signed-in account (the password is asked again). The user's calls, comments,
    voiceprint and sessions are deleted; documents and vocabulary they added stay with the
    workspace; a workspace's only member deletes the workspace with all its data. The only
    admin of a workspace with other members gets 409: make someone else admin first."""
    try:
        await container.auth.delete_account(user, password=body.password, client=client_address(request))
    except (Unauthorized, TooManyAttempts) as e:
        return _refused(e)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
