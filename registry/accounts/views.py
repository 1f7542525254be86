"""Sign-in, sign-out, password change, and the operators' account pages."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import anyio
import httpx
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from registry.accounts import oidc
from registry.accounts import services as accounts
from registry.accounts.guards import operator_only, principal_of, signed_in
from registry.accounts.throttle import ThrottleLimits, recent_failures_by_account
from registry.agencies.services import list_agencies
from registry.audit.story import Teller
from registry.errors import NotFound, ValidationFailed
from registry.flash import done
from registry.forms import FormData, form_page, see_other, text
from registry.providers.lookup import picked
from registry.sessions import end_user_sessions, rotate_session_id
from registry.settings import Settings
from registry.vocabulary import ROLES
from registry.web import Database, DatabaseDep, SettingsDep


def sign_in_limits(settings: Settings) -> ThrottleLimits:
    return ThrottleLimits(
        per_account=settings.login_attempts_per_account,
        per_address=settings.login_attempts_per_address,
        window=dt.timedelta(minutes=settings.login_throttle_minutes),
    )


def _safe_next(target: str) -> str:
    # Only paths on this site: an open redirect would let a phishing link borrow our sign-in page.
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/staff"


class SignInPages(Controller):
    include_in_schema = False

    @get("/signin")
    async def signin_form(self, settings: SettingsDep, next: FromQuery[str] = "/staff") -> Template:
        return Template(
            "accounts/signin.html",
            context={"values": {}, "errors": {}, "next": _safe_next(next), "oidc": bool(settings.oidc_issuer)},
        )

    @post("/signin")
    async def signin(
        self, request: Request[Any, Any, Any], db: DatabaseDep, settings: SettingsDep, data: FormData
    ) -> Template | Redirect:
        email, password = text(data, "email"), str(data.get("password", ""))

        # Behind a reverse proxy this is the proxy's address unless uvicorn trusts its forwarded headers.
        client = request.client.host if request.client else "unknown"

        def _attempt() -> accounts.SignInOutcome:
            with db.write() as session:
                return accounts.authenticate(session, email, password, client=client, limits=sign_in_limits(settings))

        try:
            outcome = await anyio.to_thread.run_sync(_attempt)
        except ValidationFailed as error:
            # A refused form (registry/request_checks.py): the page again, the message next to the field.
            context = {"next": _safe_next(text(data, "next")), "oidc": bool(settings.oidc_issuer)}
            return form_page("accounts/signin.html", context, {"email": email}, error)
        if outcome.user is None:
            return Template(
                "accounts/signin.html",
                context={
                    "values": {"email": email},
                    "errors": {"form": outcome.message},
                    "next": _safe_next(text(data, "next")),
                    "oidc": bool(settings.oidc_issuer),
                },
                status_code=429 if outcome.throttled else 400,
                headers={"Retry-After": str(settings.login_throttle_minutes * 60)} if outcome.throttled else None,
            )
        await start_session(request, outcome.user.id or 0, outcome.user.display_name)
        return see_other(_safe_next(text(data, "next")))

    @get("/signin/oidc")
    async def oidc_begin(
        self, request: Request[Any, Any, Any], settings: SettingsDep, next: FromQuery[str] = "/staff"
    ) -> Template | Redirect:
        if not settings.oidc_issuer:
            raise NotFound("OpenID Connect sign-in is not configured here.")
        try:
            url, pending = await anyio.to_thread.run_sync(oidc.begin, settings)
        except (httpx.HTTPError, ValueError, KeyError, oidc.OIDCError) as failure:
            request.logger.warning("OpenID provider unavailable: %s", failure)
            context = {
                "values": {},
                "errors": {"form": "Your organisation's sign-in cannot be reached right now. Try again shortly."},
                "next": _safe_next(next),
                "oidc": True,
            }
            return Template("accounts/signin.html", context=context, status_code=503)
        request.set_session({"oidc": {**pending, "next": _safe_next(next)}})
        return Redirect(url, status_code=303)

    @get("/signin/oidc/callback")
    async def oidc_callback(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        settings: SettingsDep,
        code: FromQuery[str] = "",
        # "state" is a reserved handler argument in Litestar; the query parameter is read under another name.
        returned_state: Annotated[str, QueryParameter(name="state")] = "",
        error: FromQuery[str] = "",
    ) -> Template | Redirect:
        if not settings.oidc_issuer:
            raise NotFound("OpenID Connect sign-in is not configured here.")
        pending = dict(request.session.get("oidc") or {})

        def _refuse(message: str) -> Template:
            context = {"values": {}, "errors": {"form": message}, "next": "/staff", "oidc": True}
            return Template("accounts/signin.html", context=context, status_code=400)

        if error:
            return _refuse(f"The identity provider did not sign you in ({error}).")
        try:
            identity = await anyio.to_thread.run_sync(
                lambda: oidc.complete(settings, pending, code=code, state=returned_state)
            )
        except oidc.OIDCError as failure:
            request.logger.warning("OpenID Connect sign-in refused: %s", failure)
            return _refuse("The sign-in with your organisation's account could not be verified. Try again.")

        def _account() -> tuple[int, str] | None:
            with db.write() as session:
                user = accounts.user_for_oidc(
                    session, subject=identity.subject, email=identity.email, email_verified=identity.email_verified
                )
                return (user.id or 0, user.display_name) if user else None

        account = await anyio.to_thread.run_sync(_account)
        if account is None:
            return _refuse("Your organisation's account is not registered here, or it is disabled. Ask an operator.")
        await start_session(request, *account)
        return see_other(pending.get("next") or "/staff")

    @post("/signout")
    async def signout(self, request: Request[Any, Any, Any]) -> Redirect:
        # An empty session makes the session backend delete the server-side record and the cookie.
        request.clear_session()
        return see_other("/")


async def start_session(request: Request[Any, Any, Any], user_id: FromPath[int], name: str) -> None:
    """Begin a signed-in session under a fresh id (shared by local and OpenID Connect sign-in)."""
    await rotate_session_id(request, request.app.stores.get("sessions"))
    request.set_session({"user_id": user_id, "name": name})


class AccountPages(Controller):
    path = "/account"
    include_in_schema = False
    guards = [signed_in]

    @get("/password", sync_to_thread=False)
    def password_form(self) -> Template:
        return Template("accounts/password.html", context={"values": {}, "errors": {}})

    @post("/password")
    async def change_password(
        self, request: Request[Any, Any, Any], db: DatabaseDep, data: FormData
    ) -> Template | Redirect:
        principal = principal_of(request)

        def _change() -> None:
            with db.write() as session:
                user = accounts.get_user(session, principal.user_id)
                accounts.change_password(
                    session,
                    user,
                    current=str(data.get("current_password", "")),
                    new=str(data.get("new_password", "")),
                    repeat=str(data.get("repeat_password", "")),
                    actor=principal.actor,
                )

        try:
            await anyio.to_thread.run_sync(_change)
        except ValidationFailed as error:
            return form_page("accounts/password.html", {}, {}, error)
        # Whoever else holds a session of this account (perhaps with the old password) is signed out.
        await anyio.to_thread.run_sync(end_user_sessions, db, principal.user_id)
        await start_session(request, principal.user_id, principal.display_name)
        return see_other("/staff?changed=password")


class UserAdminPages(Controller):
    path = "/staff/users"
    include_in_schema = False
    guards = [operator_only]

    @get("/", sync_to_thread=True)
    def index(self, db: DatabaseDep, settings: SettingsDep) -> Template:
        with db.read() as session:
            users = accounts.list_users(session)
            failed = recent_failures_by_account(session, [user.email for user, _ in users], sign_in_limits(settings))
            teller = Teller(session)
            # Names, not ids, next to each role; looked up here while the session is open.
            scopes = {
                m.id: (teller.agency(m.agency_id) if m.agency_id else teller.provider(m.provider_id))
                for _, roles in users
                for m in roles
                if m.agency_id or m.provider_id
            }
        context = {"users": users, "failed": failed, "minutes": settings.login_throttle_minutes, "scopes": scopes}
        return Template("accounts/users.html", context=context)

    def _form_context(self, db: Database) -> dict[str, Any]:
        with db.read() as session:
            return {"roles": ROLES, "agencies": list_agencies(session)}

    @get("/new", sync_to_thread=True)
    def new(self, db: DatabaseDep) -> Template:
        return Template("accounts/user_new.html", context={**self._form_context(db), "values": {}, "errors": {}})

    @post("/", sync_to_thread=True)
    def create(self, request: Request[Any, Any, Any], db: DatabaseDep, data: FormData) -> Template | Redirect:
        principal = principal_of(request)
        candidates: dict[str, Any] = {}
        try:
            with db.write() as session:
                provider_id = None
                if text(data, "provider_id_name") or text(data, "provider_id"):
                    provider_id, refusal = picked(session, data, "provider_id")
                    if refusal is not None:
                        error, candidates = refusal
                        raise error
                user = accounts.create_user(
                    session,
                    email=text(data, "email"),
                    display_name=text(data, "display_name"),
                    password=str(data.get("password", "")) or None,
                    role=text(data, "role"),
                    agency_id=_int_or_none(text(data, "agency_id")),
                    provider_id=provider_id,
                    actor=principal.actor,
                )
                if text(data, "oidc_subject"):
                    accounts.map_oidc_subject(session, user, text(data, "oidc_subject"), actor=principal.actor)
        except ValidationFailed as error:
            safe = {k: v for k, v in data.items() if k != "password"}
            context = {**self._form_context(db), "candidates": candidates}
            return form_page("accounts/user_new.html", context, safe, error)
        return done(request, "/staff/users/", f"Account {text(data, 'email')} created.")

    @post("/{user_id:int}/{action:str}", sync_to_thread=True)
    def change(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        settings: SettingsDep,
        user_id: FromPath[int],
        action: FromPath[str],
        data: FormData,
    ) -> Redirect:
        principal = principal_of(request)
        with db.write() as session:
            user = accounts.get_user(session, user_id)
            if action == "disable":
                if user_id == principal.user_id:
                    raise ValidationFailed({"form": "you cannot disable your own account"})
                accounts.set_active(session, user, active=False, actor=principal.actor)
            elif action == "enable":
                accounts.set_active(session, user, active=True, actor=principal.actor)
            elif action == "unlock":
                accounts.lift_throttle(session, user, limits=sign_in_limits(settings), actor=principal.actor)
            elif action == "subject":
                accounts.map_oidc_subject(session, user, text(data, "oidc_subject"), actor=principal.actor)
            else:
                raise ValidationFailed({"action": f"{action!r} is not one of: disable, enable, unlock, subject"})
        if action == "disable":
            end_user_sessions(db, user_id)
        changed = {"disable": "disabled", "enable": "enabled", "unlock": "unlocked", "subject": "linked to the sign-in"}
        return done(request, "/staff/users/", f"Account {user.email} {changed[action]}.")


def _int_or_none(value: str) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
