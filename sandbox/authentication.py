"""Who a request comes from, and the service account tokens the sandbox issues and reviews.

The sandbox accepts any bearer token (kubeconfigs carry `sandbox-token`) as its one admin user, who is
in `system:masters` as a kind cluster's admin is in an admin group. A token the sandbox issued through
`serviceaccounts/{name}/token` (TokenRequest) authenticates as that service account instead, so
`kubectl --token=$(kubectl create token sa)` acts as `system:serviceaccount:<ns>:<sa>`. Impersonation
headers (`kubectl --as`, `--as-group`) name the user a request acts as.

Tokens are JWTs with the claims a real service account token carries (iss, sub, aud, exp, iat, nbf,
jti and `kubernetes.io`), signed with HS256 and a key made when the sandbox starts (a real cluster
signs with RS256 and publishes its keys; nothing here verifies a token but this module).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# The API server's audiences: what a TokenRequest gets when it names none.
API_AUDIENCES = (SERVICE_ACCOUNT_ISSUER,)
MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class UserInfo:
    """An authenticated user, as authentication.k8s.io UserInfo describes one."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"username": self.username}
        if self.uid:
            info["uid"] = self.uid
        if self.groups:
            info["groups"] = list(self.groups)
        if self.extra:
            info["extra"] = {k: list(v) for k, v in self.extra.items()}
        return info


def service_account_user(namespace: str, name: str, uid: str = "") -> UserInfo:
    """The user a service account's token authenticates as, with the groups the authenticator adds."""
    return UserInfo(
        username=f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
        uid=uid,
        groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED),
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class TokenCheck:
    """What reviewing a token found: the user, the token's audiences, or why it is refused."""

    user: UserInfo | None
    audiences: tuple[str, ...] = ()
    error: str = ""


class Authenticator:
    """Identifies requests and issues and checks service account tokens for one sandbox."""

    def __init__(self, admin_user: str) -> None:
        self.admin = UserInfo(username=admin_user, groups=(MASTERS, AUTHENTICATED))
        self._key = secrets.token_bytes(32)
        self._key_id = _b64(hashlib.sha256(self._key).digest()[:16])

    # ---- tokens ----

    def issue(
        self,
        service_account: Mapping[str, Any],
        *,
        audiences: list[str],
        expiration_seconds: int,
        bound_object: Mapping[str, Any] | None = None,
    ) -> tuple[str, str]:
        """A signed token for the service account, and its expiry as an RFC 3339 time."""
        metadata = service_account["metadata"]
        namespace, name = str(metadata.get("namespace") or ""), str(metadata["name"])
        now = int(time.time())
        kubernetes: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": str(metadata.get("uid") or "")},
        }
        if bound_object:
            kubernetes[str(bound_object.get("kind", "")).lower()] = {
                "name": bound_object.get("name"),
                "uid": bound_object.get("uid"),
            }
        claims = {
            "aud": audiences,
            "exp": now + expiration_seconds,
            "iat": now,
            "iss": SERVICE_ACCOUNT_ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": kubernetes,
            "nbf": now,
            "sub": f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
        }
        header = {"alg": "HS256", "kid": self._key_id}
        signing_input = f"{_b64(_compact(header))}.{_b64(_compact(claims))}"
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}", rfc3339(now + expiration_seconds)

    def check(self, token: str, audiences: list[str] | None = None) -> TokenCheck:
        """TokenReview: a token this sandbox issued is its service account; any other token is the
        admin user, as the sandbox accepts any bearer token."""
        wanted = tuple(audiences or API_AUDIENCES)
        claims = self._claims(token)
        if claims is None:
            return TokenCheck(self.admin, wanted)
        if int(claims.get("exp") or 0) <= time.time():
            return TokenCheck(None, error="[invalid bearer token, service account token has expired]")
        token_audiences = tuple(str(a) for a in claims.get("aud") or [])
        matched = tuple(a for a in wanted if a in token_audiences)
        if not matched:
            return TokenCheck(
                None,
                error=(
                    f"[invalid bearer token, token audiences {json.dumps(list(token_audiences))} "
                    f"is invalid for the target audiences {json.dumps(list(wanted))}]"
                ),
            )
        kubernetes = claims.get("kubernetes.io") or {}
        account = kubernetes.get("serviceaccount") or {}
        user = service_account_user(
            str(kubernetes.get("namespace") or ""),
            str(account.get("name") or ""),
            str(account.get("uid") or ""),
        )
        return TokenCheck(user, matched)

    def _claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this sandbox signed, or None for any other token."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing_input = f"{parts[0]}.{parts[1]}".encode()
        try:
            expected = hmac.new(self._key, signing_input, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(parts[2])):
                return None
            claims: Any = json.loads(_unb64(parts[1]))
        except (ValueError, TypeError):
            return None
        return claims if isinstance(claims, dict) else None

    # ---- requests ----

    def user_of(self, headers: Mapping[str, str], impersonated_groups: list[str] | None = None) -> UserInfo:
        """The user a request acts as: its bearer token's, then any impersonation it asks for."""
        authorization = headers.get("Authorization", "")
        user = self.admin
        if authorization.lower().startswith("bearer "):
            checked = self.check(authorization[7:].strip())
            if checked.user is not None:
                user = checked.user
        impersonated = headers.get("Impersonate-User", "")
        if impersonated:
            groups = list(impersonated_groups or [])
            if impersonated.startswith(SERVICE_ACCOUNT_PREFIX):
                namespace, _, name = impersonated[len(SERVICE_ACCOUNT_PREFIX) :].partition(":")
                groups = [*service_account_user(namespace, name).groups, *groups]
            if AUTHENTICATED not in groups:
                groups.append(AUTHENTICATED)
            return UserInfo(impersonated, headers.get("Impersonate-Uid", ""), tuple(groups))
        return user
