"""Inviting provider staff, and the invited person's page to set a password; providers requesting an entry."""

from __future__ import annotations

from typing import Any

import anyio
from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from registry.accounts.guards import EDITOR, OPERATOR, Principal, current_principal, principal_of, requires, signed_in
from registry.accounts.invitations import (
    accept_as,
    create_invitation,
    ensure_may_invite,
    invited_account,
    join_by_invitation,
    open_invitation,
)
from registry.accounts.roles import memberships
from registry.accounts.services import get_user
from registry.errors import Conflict, ValidationFailed
from registry.flash import done
from registry.forms import FormData, form_page, see_other, text
from registry.mail.services import enqueue, render
from registry.providers.identifiers import InvalidIdentifier, normalise
from registry.providers.self_requests import confirm_entry, pending_requests, reject_entry, request_entry
from registry.providers.services import ProviderInput, display_name, get_provider
from registry.reference.services import countries
from registry.vocabulary import PROVIDER_TYPES
from registry.web import Database, DatabaseDep, SettingsDep


class InvitationPages(Controller):
    path = "/staff/providers/{provider_id:int}/invitations"
    include_in_schema = False
    guards = [signed_in]

    @get("/", sync_to_thread=True)
    def form(self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int]) -> Template:
        principal = principal_of(request)
        with db.read() as session:
            provider = get_provider(session, provider_id)
            ensure_may_invite(session, memberships(session, principal.user_id), provider.id or 0)
            name = display_name(session, provider.id or 0)
        return Template(
            "accounts/invite.html",
            context={"provider_id": provider_id, "provider_name": name, "values": {}, "errors": {}, "sent_to": None},
        )

    @post("/", sync_to_thread=True)
    def invite(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        settings: SettingsDep,
        provider_id: FromPath[int],
        data: FormData,
    ) -> Template:
        principal = principal_of(request)
        try:
            with db.write() as session:
                provider = get_provider(session, provider_id)
                name = display_name(session, provider_id)
                invitation, token = create_invitation(
                    session,
                    provider,
                    email=text(data, "email"),
                    roles=memberships(session, principal.user_id),
                    actor=principal.actor,
                    settings=settings,
                )
                link = f"{settings.base_url}/invitations/{token}"
                # Written with the invitation, so the e-mail is sent exactly when the invitation exists.
                # The link goes to the invited address only: whoever sends it never sees it.
                enqueue(
                    session,
                    [
                        (
                            invitation.email,
                            render(
                                "mail/invitation",
                                f"Invitation to keep {name}'s record in the Provider QA Registry",
                                {
                                    "inviter": principal.display_name,
                                    "provider_name": name,
                                    "accept_link": link,
                                    "expires_on": invitation.expires_at.date().isoformat(),
                                    "link": link,
                                },
                                cause=f"invitation:{invitation.id}",
                            ),
                        )
                    ],
                )
        except ValidationFailed as error:
            return form_page(
                "accounts/invite.html", {"provider_id": provider_id, "provider_name": "", "sent_to": None}, data, error
            )
        return Template(
            "accounts/invite.html",
            context={
                "provider_id": provider_id,
                "provider_name": name,
                "values": {},
                "errors": {},
                "sent_to": invitation.email,
            },
        )


class InvitationAcceptPages(Controller):
    """The invited person's page: a new account sets a password; an existing one accepts signed in."""

    path = "/invitations/{token:str}"
    include_in_schema = False

    @get("/")
    async def form(self, request: Request[Any, Any, Any], db: DatabaseDep, token: FromPath[str]) -> Template:
        principal = await current_principal(request)
        context = await anyio.to_thread.run_sync(_accept_context, db, token, principal)
        return Template("accounts/accept.html", context={**context, "values": {}, "errors": {}})

    @post("/")
    async def accept(
        self, request: Request[Any, Any, Any], db: DatabaseDep, token: FromPath[str], data: FormData
    ) -> Template | Redirect:
        principal = await current_principal(request)

        def _accept() -> str:
            with db.write() as session:
                invitation = open_invitation(session, token)
                # Signed in, one accepts as that account (refused when it is not the invited one).
                if principal is not None:
                    accept_as(session, token, get_user(session, principal.user_id))
                    return f"/staff/providers/{invitation.provider_id}"
                if text(data, "password") != text(data, "repeat_password"):
                    raise ValidationFailed({"repeat_password": "the two passwords differ"})
                join_by_invitation(
                    session, token, display_name=text(data, "display_name"), password=text(data, "password") or None
                )
                return "/signin?joined=1"

        try:
            target = await anyio.to_thread.run_sync(_accept)
        except (ValidationFailed, Conflict) as error:
            # An invitation spent or expired meanwhile is answered by the error page instead.
            context = await anyio.to_thread.run_sync(_accept_context, db, token, principal)
            return form_page("accounts/accept.html", context, {"display_name": text(data, "display_name")}, error)
        return see_other(target)


def _accept_context(db: Database, token: str, principal: Principal | None) -> dict[str, Any]:
    with db.read() as session:
        invitation = open_invitation(session, token)
        return {
            "token": token,
            "email": invitation.email,
            "provider_name": display_name(session, invitation.provider_id),
            "has_account": invited_account(session, invitation) is not None,
            "account_email": principal.email if principal else None,
        }


class EntryRequestPages(Controller):
    """A provider asks to be listed; the entry stays invisible to verifiers until confirmed."""

    path = "/request-entry"
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def form(self, db: DatabaseDep) -> Template:
        with db.read() as session:
            context = {"countries": countries(session), "types": PROVIDER_TYPES, "values": {}, "errors": {}}
        return Template("providers/request.html", context=context)

    @post("/", sync_to_thread=True)
    def submit(self, db: DatabaseDep, data: FormData) -> Template:
        identifiers = [{"scheme": "domain", "value": text(data, "domain")}] if text(data, "domain") else []
        entry = ProviderInput(
            name=text(data, "name"),
            country=text(data, "country"),
            provider_type=text(data, "provider_type"),
            website=text(data, "website") or None,
            identifiers=identifiers,
        )
        try:
            with db.write() as session:
                request_entry(session, entry, contact=text(data, "contact"))
        except ValidationFailed as error:
            with db.read() as session:
                context = {"countries": countries(session), "types": PROVIDER_TYPES}
            errors = {key.replace("identifiers[0].value", "domain"): value for key, value in error.errors.items()}
            # The provider's own fields are checked before its identifiers: report the domain at once too.
            if text(data, "domain"):
                try:
                    normalise("domain", text(data, "domain"))
                except InvalidIdentifier as problem:
                    errors.setdefault("domain", str(problem))
            return form_page("providers/request.html", context, data, ValidationFailed(errors))
        return Template("providers/request_received.html", context={"name": entry.name})


class PendingEntryPages(Controller):
    path = "/staff/requests"
    include_in_schema = False
    guards = [requires(OPERATOR, EDITOR)]

    @get("/", sync_to_thread=True)
    def index(self, db: DatabaseDep) -> Template:
        with db.read() as session:
            pending = [(p, display_name(session, p.id or 0)) for p in pending_requests(session)]
        return Template("providers/requests.html", context={"pending": pending})

    @post("/{provider_id:int}/confirm", sync_to_thread=True)
    def confirm(
        self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int], data: FormData
    ) -> Redirect:
        principal = principal_of(request)
        version = text(data, "version")
        with db.write() as session:
            provider = confirm_entry(
                session,
                get_provider(session, provider_id),
                roles=memberships(session, principal.user_id),
                actor=principal.actor,
                expected_version=int(version) if version.isdigit() else -1,
            )
            name = display_name(session, provider.id or 0)
        return done(request, f"/staff/providers/{provider_id}", f"{name} confirmed; verifiers can now see it.")

    @post("/{provider_id:int}/reject", sync_to_thread=True)
    def reject(
        self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        principal = principal_of(request)
        version = text(data, "version")
        try:
            with db.write() as session:
                provider = reject_entry(
                    session,
                    get_provider(session, provider_id),
                    reason=text(data, "reason"),
                    roles=memberships(session, principal.user_id),
                    actor=principal.actor,
                    expected_version=int(version) if version.isdigit() else -1,
                )
                name = display_name(session, provider.id or 0)
        except ValidationFailed as error:
            with db.read() as session:
                pending = [(p, display_name(session, p.id or 0)) for p in pending_requests(session)]
            errors = {f"reason-{provider_id}": message for message in error.errors.values()}
            return form_page(
                "providers/requests.html", {"pending": pending}, {}, ValidationFailed(errors, error.detail)
            )
        return done(request, "/staff/requests/", f"The entry request of {name} was refused.")
