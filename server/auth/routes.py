"""POST /api/auth/login and GET /api/auth/me."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.params import JSONBody
from litestar.security.jwt import JWTAuth, Token

from server.auth.schemas import CurrentUser, LoginRequest, LoginResponse
from server.auth.service import authenticate, load_current_user
from server.deps import DbSession
from server.errors import BadCredentials

# Paths anyone may call; everything else needs a bearer token.
PUBLIC_PATHS = [
    "^/health$",
    "^/ready$",
    "^/metrics$",
    "^/schema",
    "^/api/auth/login$",
    "^/app",
    "^/desk",
    "^/favicon.ico$",
]


async def retrieve_user(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    try:
        user_id = int(token.sub)
    except ValueError:
        return None
    async with connection.app.state.sessionmaker() as session:
        return await load_current_user(session, user_id)


def build_jwt_auth(signing_key: str, ttl_minutes: int) -> JWTAuth[CurrentUser, Token]:
    return JWTAuth[CurrentUser, Token](
        retrieve_user_handler=retrieve_user,
        token_secret=signing_key,
        default_token_expiration=timedelta(minutes=ttl_minutes),
        exclude=PUBLIC_PATHS,
        description="`Authorization: Bearer <token>` from POST /api/auth/login",
    )


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/login", status_code=200, summary="Log in with username and password")
    async def login(self, data: JSONBody[LoginRequest], db: DbSession, state: State) -> LoginResponse:
        user = await authenticate(db, data.username, data.password)
        if user is None:
            raise BadCredentials("Wrong username or password.")
        jwt_auth: JWTAuth[CurrentUser, Token] = state.jwt_auth
        ttl = jwt_auth.default_token_expiration
        token = jwt_auth.create_token(identifier=str(user.id), token_expiration=ttl)
        return LoginResponse(token=token, token_type="Bearer",  # noqa: S106 - the scheme name, not a secret

                             expires_in=int(ttl.total_seconds()), user=user)

    @get("/me", summary="Who the token belongs to")
    async def me(self, request: Request[CurrentUser, Token, Any]) -> CurrentUser:
        return request.user
