"""OAuth 2.0 token endpoint, access tokens and the identity URL.

Grants and their replies follow Salesforce's flow pages: username-password (no refresh token;
https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_username_password_flow.htm),
refresh token (reply has no refresh_token), client credentials, and JWT bearer (reply has
access_token, scope, instance_url, id, token_type only;
https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm). Error bodies
are the ones Salesforce returns: ``invalid_client_id``/"client identifier invalid",
``invalid_client``/"invalid client credentials", ``invalid_grant``/"authentication failure",
"expired access/refresh token", "invalid assertion", "audience is invalid", "expired
authorization code" (an expired JWT), "user hasn't approved this consumer",
``unsupported_grant_type``/"grant type not supported".

Org options (off by default, as in an org that never changed them):

* Refresh Token Rotation: each refresh grant returns a new ``refresh_token`` and invalidates the
  one presented; presenting an invalidated token revokes the current token of its chain and every
  access token issued from the chain ("Force one-time-use Refresh Tokens",
  https://help.salesforce.com/s/articleView?id=005316711&type=1).
* A session timeout: access tokens stop working that many seconds after issue, so a client must
  log in again mid-run ("Sessions automatically expire after the amount of time specified in the
  Security Controls setup area", https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/meta_error_handling_session_exp.htm).
* The username-password flow blocked (the default for orgs created from Summer '23 on): the
  password grant answers ``invalid_grant``/"authentication failure" whatever the credentials
  (https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_disable_username_password_flow_ca.htm&type=5).

The client credentials flow is refused on the generic login hosts with ``invalid_grant``/"request
not supported on this domain": it must use the org's My Domain
(https://help.salesforce.com/s/articleView?id=000886201&type=1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from tests.fake_salesforce.errors import OAuthError
from tests.fake_salesforce.keys import verify_rs256
from tests.fake_salesforce.vocabulary import GrantType

JWT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
# Hosts that serve every org's login page but not the client credentials flow.
GENERIC_LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
REFRESH_TOKEN_SECRET_CHARS = 64
MS_PER_SECOND = 1000
ACCESS_TOKEN_SECRET_CHARS = 96
API_SCOPE = "api"
DEFAULT_SCOPES = "api refresh_token"


@dataclass(frozen=True)
class Credentials:
    """Everything a client needs to log in to the emulator."""

    username: str
    password: str
    security_token: str
    client_id: str
    client_secret: str
    refresh_token: str
    private_key_pem: str

    def as_json(self) -> dict[str, str]:
        """Plain dict (for the ready file and the control API)."""
        return dict(self.__dict__)


class TokenStore:
    """Issued access tokens; ``expire_all`` makes every one of them invalid at once.

    With ``session_seconds`` a token also stops working that long after it was issued (emulator
    clock). Tokens issued from a refresh token chain are remembered by chain, so revoking the
    chain revokes them.
    """

    def __init__(
        self,
        org_id: str,
        now_ms: Callable[[], int] | None = None,
        session_seconds: float | None = None,
    ) -> None:
        self.org_id = org_id
        self._now_ms = now_ms
        self.session_seconds = session_seconds
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[int, str | None]] = {}  # token -> (issued ms, chain)
        self.generation = 0

    def _clock(self) -> int:
        return self._now_ms() if self._now_ms is not None else 0

    def issue(self, chain: str | None = None) -> str:
        """A new opaque token shaped like Salesforce's ``00D...!AQ...``."""
        token = (
            f"{self.org_id[:15]}!AQ"
            + secrets.token_urlsafe(ACCESS_TOKEN_SECRET_CHARS)[:ACCESS_TOKEN_SECRET_CHARS]
        )
        with self._lock:
            self._tokens[token] = (self._clock(), chain)
        return token

    def valid(self, token: str | None) -> bool:
        """Whether ``token`` was issued, is not revoked and its session has not timed out."""
        with self._lock:
            entry = self._tokens.get(token) if token is not None else None
        if entry is None:
            return False
        if self.session_seconds is None:
            return True
        return self._clock() - entry[0] < self.session_seconds * MS_PER_SECOND

    def expire_all(self) -> None:
        """Every issued access token becomes invalid (sessions time out)."""
        with self._lock:
            self._tokens.clear()
            self.generation += 1

    def revoke_chain(self, chain: str) -> int:
        """Revoke every access token issued from a refresh token chain; returns how many."""
        with self._lock:
            doomed = [t for t, (_, c) in self._tokens.items() if c == chain]
            for token in doomed:
                del self._tokens[token]
            return len(doomed)


@dataclass
class RefreshToken:
    """One refresh token: its chain and whether it can still be exchanged."""

    chain: str
    active: bool = True


def form_params(body: bytes, query: str) -> dict[str, str]:
    """Token request parameters: the query string, overridden by the form body."""
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
    return params


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class OAuthServer:
    """Handles ``POST /services/oauth2/token`` for the four grants."""

    def __init__(
        self,
        credentials: Credentials,
        tokens: TokenStore,
        base_url: str,
        user_id: str,
        now_ms: object,
        *,
        rotate_refresh_tokens: bool = False,
        username_password_flow: bool = True,
    ) -> None:
        self.credentials = credentials
        self.tokens = tokens
        self.base_url = base_url
        self.user_id = user_id
        self._now_ms = now_ms
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.username_password_flow = username_password_flow
        self._refresh_lock = threading.Lock()
        self._refresh_tokens = {credentials.refresh_token: RefreshToken("chain-0")}
        self.issued_refresh_tokens: list[str] = []  # rotated ones (secrets, for leak scans)
        self.revoked_chains = 0

    @property
    def identity_url(self) -> str:
        """The ``id`` of token replies: ``{instance}/id/{orgId}/{userId}``."""
        return f"{self.base_url}/id/{self.tokens.org_id}/{self.user_id}"

    @property
    def current_refresh_token(self) -> str | None:
        """The refresh token of the configured chain that can still be exchanged."""
        with self._refresh_lock:
            return next(
                (
                    token
                    for token, state in self._refresh_tokens.items()
                    if state.chain == "chain-0" and state.active
                ),
                None,
            )

    def _issued(
        self, scope: str | None, signed: bool = True, chain: str | None = None
    ) -> dict[str, str]:
        token = self.tokens.issue(chain)
        issued_at = str(self._now_ms())  # type: ignore[operator]
        reply: dict[str, str] = {"access_token": token}
        if signed:
            digest = hmac.new(
                self.credentials.client_secret.encode(),
                (self.identity_url + issued_at).encode(),
                hashlib.sha256,
            ).digest()
            reply["signature"] = base64.b64encode(digest).decode()
        if scope is not None:
            reply["scope"] = scope
        reply.update(
            {"instance_url": self.base_url, "id": self.identity_url, "token_type": "Bearer"}
        )
        if signed:
            reply["issued_at"] = issued_at
        return reply

    def grant(
        self, body: bytes, query: str, authorization: str | None, host: str | None = None
    ) -> tuple[str, dict[str, str]]:
        """Run the grant in the form body; returns (grant name, success JSON) or raises OAuthError."""
        params = form_params(body, query)
        if authorization and authorization.lower().startswith("basic "):
            user, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            params.setdefault("client_id", user)
            params.setdefault("client_secret", secret)
        grant = params.get("grant_type", "")
        handlers = {
            GrantType.PASSWORD: self._password,
            GrantType.REFRESH_TOKEN: self._refresh,
            GrantType.CLIENT_CREDENTIALS: self._client_credentials,
            GrantType.JWT_BEARER: self._jwt,
        }
        try:
            handler = handlers[GrantType(grant)]
        except ValueError:
            raise OAuthError("unsupported_grant_type", "grant type not supported") from None
        if grant == GrantType.CLIENT_CREDENTIALS and (host or "").split(":")[0].lower() in (
            GENERIC_LOGIN_HOSTS
        ):
            raise OAuthError("invalid_grant", "request not supported on this domain")
        return grant, handler(params)

    def _client(self, params: dict[str, str], secret_required: bool = True) -> None:
        if params.get("client_id") != self.credentials.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        secret = params.get("client_secret")
        if (secret_required or secret is not None) and secret != self.credentials.client_secret:
            raise OAuthError("invalid_client", "invalid client credentials")

    def _password(self, params: dict[str, str]) -> dict[str, str]:
        self._client(params)
        if not self.username_password_flow:
            raise OAuthError("invalid_grant", "authentication failure")
        creds = self.credentials
        if (
            params.get("username") != creds.username
            or params.get("password") != creds.password + creds.security_token
        ):
            raise OAuthError("invalid_grant", "authentication failure")
        return self._issued(scope=None)

    def _refresh(self, params: dict[str, str]) -> dict[str, str]:
        self._client(params, secret_required=False)
        presented = params.get("refresh_token", "")
        with self._refresh_lock:
            state = self._refresh_tokens.get(presented)
            if state is None or not state.active:
                if state is not None:  # reuse of a rotated token: the whole chain goes
                    self._revoke_chain(state.chain)
                raise OAuthError("invalid_grant", "expired access/refresh token")
            reply = self._issued(scope=DEFAULT_SCOPES, chain=state.chain)
            if self.rotate_refresh_tokens:
                state.active = False
                new_token = "5Aep861" + secrets.token_urlsafe(REFRESH_TOKEN_SECRET_CHARS)
                self._refresh_tokens[new_token] = RefreshToken(state.chain)
                self.issued_refresh_tokens.append(new_token)
                reply["refresh_token"] = new_token
            return reply

    def _revoke_chain(self, chain: str) -> None:
        for state in self._refresh_tokens.values():
            if state.chain == chain:
                state.active = False
        self.tokens.revoke_chain(chain)
        self.revoked_chains += 1

    def _client_credentials(self, params: dict[str, str]) -> dict[str, str]:
        self._client(params)
        return self._issued(scope=API_SCOPE)

    def _jwt(self, params: dict[str, str]) -> dict[str, str]:
        assertion = params.get("assertion", "")
        parts = assertion.split(".")
        if len(parts) != 3:
            raise OAuthError("invalid_grant", "invalid assertion")
        try:
            header = json.loads(_b64url_decode(parts[0]))
            claims = json.loads(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except (ValueError, json.JSONDecodeError):
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if claims.get("iss") != self.credentials.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if header.get("alg") != "RS256" or not verify_rs256(
            f"{parts[0]}.{parts[1]}".encode(), signature
        ):
            raise OAuthError("invalid_grant", "invalid assertion")
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if not any(aud in (*JWT_AUDIENCES, self.base_url) for aud in audiences):
            raise OAuthError("invalid_grant", "audience is invalid")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp * 1000 <= self._now_ms():  # type: ignore[operator]
            raise OAuthError("invalid_grant", "expired authorization code")
        if claims.get("sub") != self.credentials.username:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return self._issued(scope=DEFAULT_SCOPES, signed=False)
