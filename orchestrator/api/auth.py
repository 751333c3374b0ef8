"""Bearer tokens and what each role may do.

- viewer: read everything but the audit log;
- operator: also command (launch, abort, return home, pause, create and edit patrols)
  and read the audit log;
- admin: everything;
- integration: read, and (the alert system's own calls) send alerts and step incidents
  (acknowledged, dispatched, resolved, false alarm).
No token, or an unknown one: 401. A known token whose role may not do it: 403, and the
refusal is audited like any command.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orchestrator.settings import ApiUser

READ = frozenset({"viewer", "operator", "admin", "integration"})
COMMAND = frozenset({"operator", "admin"})
AUDIT = frozenset({"operator", "admin"})
ALERTING = frozenset({"operator", "admin", "integration"})
"""Who may send alerts and step incidents: the operators and the alert system itself."""

bearer = HTTPBearer(auto_error=False, description="a token from the service's settings (api.users)")


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


class TokenBook:
    def __init__(self, users: list[ApiUser]) -> None:
        self.users = list(users)

    def find(self, token: str) -> Caller | None:
        for u in self.users:
            if hmac.compare_digest(u.token.encode(), token.encode()):
                return Caller(u.name, u.role)
        return None


QUERY_TOKEN_ROUTES = ("/evidence", "/video", "/events")
"""GETs a browser makes without headers (an <img>, an EventSource): only these take the
token as `?access_token=`; everywhere else it would end up in logs and histories."""


def _query_token(request: Request) -> str | None:
    if request.method == "GET" and request.url.path.endswith(QUERY_TOKEN_ROUTES):
        return request.query_params.get("access_token")
    return None


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    token = credentials.credentials if credentials is not None else _query_token(request)
    if not token:
        raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)", {"WWW-Authenticate": "Bearer"})
    book: TokenBook = request.app.state.tokens
    who = book.find(token)
    if who is None:
        raise HTTPException(401, "unknown or revoked token", {"WWW-Authenticate": "Bearer"})
    return who


def reader(who: Annotated[Caller, Depends(caller)]) -> Caller:
    if who.role not in READ:
        raise HTTPException(403, f"role {who.role} may not read")
    return who


def auditor(who: Annotated[Caller, Depends(caller)]) -> Caller:
    if who.role not in AUDIT:
        raise HTTPException(403, f"role {who.role} may not read the audit log")
    return who


Reader = Annotated[Caller, Depends(reader)]
Auditor = Annotated[Caller, Depends(auditor)]
Anyone = Annotated[Caller, Depends(caller)]
