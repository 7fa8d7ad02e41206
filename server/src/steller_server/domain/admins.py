"""Admin users, their roles and their session tokens.

Passwords are argon2-hashed; session tokens are random, shown once at login, stored only as a keyed
hash and expire. Roles: `admin` (everything), `support` and `finance` (see the contract per route).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.engine import Database
from steller_server.db.tables import admin_sessions, admin_users
from steller_server.domain import audit, crypto
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import EmailTaken
from steller_server.domain.ids import new_id
from steller_server.domain.pagination import Page, fetch_page

ROLES = ("admin", "support", "finance")
# Verifying against a real hash when the email is unknown keeps login timing uniform.
_DUMMY_HASH = crypto.hash_password("not-a-real-password-but-the-same-work")


@dataclass(frozen=True, kw_only=True)
class AdminUser:
    id: str
    email: str
    name: str
    role: str
    disabled: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> AdminUser:
        return cls(
            id=row["id"],
            email=row["email"],
            name=row["name"],
            role=row["role"],
            disabled=bool(row["disabled"]),
            created_at=row["created_at"],
        )

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "createdAt": self.created_at.isoformat().replace("+00:00", "Z"),
        }


@dataclass(frozen=True, kw_only=True)
class AdminSession:
    user_id: str
    email: str
    role: str
    token_id: str  # the stored hash: identifies the session without revealing the token


@dataclass(frozen=True, kw_only=True)
class Login:
    token: str
    expires_at: datetime
    user: AdminUser


async def create_user(
    conn: AsyncConnection,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    now: datetime | None = None,
) -> AdminUser:
    if role not in ROLES:
        raise ValueError(f"unknown admin role {role!r}")
    now = now or utcnow()
    exists = await conn.scalar(
        select(admin_users.c.id).where(func.lower(admin_users.c.email) == email.lower())
    )
    if exists is not None:
        raise EmailTaken(f"An admin user with email {email} already exists")
    row = {
        "id": new_id("usr"),
        "email": email,
        "name": name,
        "role": role,
        "password_hash": crypto.hash_password(password),
        "disabled": False,
        "created_at": now,
        "updated_at": now,
    }
    try:
        await conn.execute(insert(admin_users).values(**row))
    except IntegrityError:
        raise EmailTaken(f"An admin user with email {email} already exists") from None
    return AdminUser.from_row(row)


async def ensure_user(
    db: Database, *, email: str, name: str, role: str, password: str
) -> tuple[AdminUser, bool]:
    """The user with `email`, created if missing (used by `create-admin` and the sandbox)."""
    async with db.write() as conn:
        row = (
            (
                await conn.execute(
                    select(admin_users).where(func.lower(admin_users.c.email) == email.lower())
                )
            )
            .mappings()
            .one_or_none()
        )
        if row is not None:
            return AdminUser.from_row(row), False
        user = await create_user(conn, email=email, name=name, role=role, password=password)
        await audit.record(
            conn,
            actor="system",
            action="admin_user.create",
            target_type="admin_user",
            target_id=user.id,
            before=None,
            after={"email": user.email, "role": user.role},
            reason="bootstrap",
            request_id=None,
        )
        return user, True


async def list_users(
    conn: AsyncConnection, *, limit: int = 50, cursor: str | None = None
) -> Page[AdminUser]:
    return await fetch_page(
        conn,
        select(admin_users),
        created_col=admin_users.c.created_at,
        id_col=admin_users.c.id,
        limit=limit,
        cursor=cursor,
        build=AdminUser.from_row,
    )


async def login(
    db: Database,
    *,
    email: str,
    password: str,
    secret_key: str,
    ttl: timedelta,
    now: datetime | None = None,
) -> Login | None:
    """A new session for valid credentials of an enabled user; None otherwise (no oracle)."""
    now = now or utcnow()
    async with db.read() as conn:
        row = (
            (
                await conn.execute(
                    select(admin_users).where(func.lower(admin_users.c.email) == email.lower())
                )
            )
            .mappings()
            .one_or_none()
        )
    if row is None:
        crypto.verify_password(_DUMMY_HASH, password)
        return None
    if not crypto.verify_password(row["password_hash"], password) or row["disabled"]:
        return None
    token = crypto.generate_token()
    expires_at = now + ttl
    async with db.write() as conn:
        await conn.execute(
            insert(admin_sessions).values(
                token_hash=crypto.hash_token(token, secret_key),
                user_id=row["id"],
                created_at=now,
                expires_at=expires_at,
            )
        )
        await conn.execute(
            update(admin_users).where(admin_users.c.id == row["id"]).values(last_login_at=now)
        )
        await conn.execute(delete(admin_sessions).where(admin_sessions.c.expires_at < now))
    return Login(token=token, expires_at=expires_at, user=AdminUser.from_row(row))


async def authenticate_token(
    conn: AsyncConnection, *, token: str, secret_key: str, now: datetime | None = None
) -> AdminSession | None:
    now = now or utcnow()
    token_hash = crypto.hash_token(token, secret_key)
    row = (
        (
            await conn.execute(
                select(
                    admin_sessions.c.token_hash,
                    admin_sessions.c.expires_at,
                    admin_users.c.id,
                    admin_users.c.email,
                    admin_users.c.role,
                    admin_users.c.disabled,
                )
                .join(admin_users, admin_users.c.id == admin_sessions.c.user_id)
                .where(admin_sessions.c.token_hash == token_hash)
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None or row["disabled"] or row["expires_at"] <= now:
        return None
    return AdminSession(
        user_id=row["id"], email=row["email"], role=row["role"], token_id=row["token_hash"]
    )


async def logout(db: Database, *, token_id: str) -> None:
    async with db.write() as conn:
        await conn.execute(delete(admin_sessions).where(admin_sessions.c.token_hash == token_id))
