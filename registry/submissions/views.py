"""Staff pages for API tokens: agency editors make tokens for their agency, operators for any."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import Session

from registry.accounts.guards import EDITOR, Principal, principal_of, recordable_agencies, requires
from registry.agencies.services import list_agencies
from registry.errors import ValidationFailed
from registry.forms import FormData, form_page, see_other, text, values
from registry.submissions import tokens
from registry.web import DatabaseDep

# The secret is on this page only; no cache keeps it.
NO_STORE = {"Cache-Control": "no-store"}


def _context(session: Session, principal: Principal) -> dict[str, Any]:
    agencies = [a for a in list_agencies(session) if (a.id or 0) in set(recordable_agencies(principal, [a.id or 0]))]
    visible = None if principal.is_operator else {a.id or 0 for a in agencies}
    names = {a.id: a.acronym for a in agencies}
    return {
        "agencies": [(a.id, f"{a.acronym}: {a.name}") for a in agencies],
        "tokens": [(t, names.get(t.agency_id, "?")) for t in tokens.tokens_of(session, visible)],
        "scopes": tokens.SCOPES,
        "now": tokens.utcnow(),
    }


class TokenPages(Controller):
    path = "/staff/tokens"
    include_in_schema = False
    guards = [requires(EDITOR)]

    @get("/", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db: DatabaseDep) -> Template:
        with db.read() as session:
            context = _context(session, principal_of(request))
        return Template("submissions/tokens.html", context={**context, "values": {}, "errors": {}})

    @post("/", sync_to_thread=True)
    def create(self, request: Request[Any, Any, Any], db: DatabaseDep, data: FormData) -> Template:
        principal = principal_of(request)
        agency = text(data, "agency_id")
        try:
            if not agency.isdigit():
                raise ValidationFailed({"agency_id": "choose the agency the token acts for"})
            if int(agency) not in recordable_agencies(principal, [int(agency)]):
                raise ValidationFailed({"agency_id": "you may only make tokens for your own agency"})
            with db.write() as session:
                token, secret = tokens.create_token(
                    session,
                    agency_id=int(agency),
                    name=text(data, "name"),
                    expires_on=text(data, "expires_on"),
                    scopes=values(data, "scopes"),
                    actor=principal.actor,
                )
        except ValidationFailed as error:
            with db.read() as session:
                context = _context(session, principal)
            return form_page("submissions/tokens.html", context, data, error)
        return Template("submissions/token_created.html", context={"token": token, "secret": secret}, headers=NO_STORE)

    @post("/{token_id:int}/revoke", sync_to_thread=True)
    def revoke(self, request: Request[Any, Any, Any], db: DatabaseDep, token_id: FromPath[int]) -> Redirect:
        principal = principal_of(request)
        with db.write() as session:
            token = tokens.get_token(session, token_id)
            if token.agency_id not in recordable_agencies(principal, [token.agency_id]):
                raise PermissionDeniedException("You may only revoke your own agency's tokens.")
            tokens.revoke_token(session, token, actor=principal.actor)
        return see_other("/staff/tokens/")
