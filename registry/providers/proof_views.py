"""Provider staff prove that an identifier they claimed is theirs, so verifiers can resolve it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import Session

from registry.accounts.guards import Principal, principal_of, signed_in
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.flash import done
from registry.forms import FormData, form_page, text
from registry.providers import proofs
from registry.providers.models import ProviderIdentifier
from registry.providers.services import display_name
from registry.settings import Settings
from registry.web import DatabaseDep, SettingsDep


def _own_identifier(session: Session, principal: Principal, identifier_id: int) -> ProviderIdentifier:
    identifier = session.get(ProviderIdentifier, identifier_id)
    if identifier is None:
        raise NotFound(f"There is no identifier with id {identifier_id}.")
    # Control is proven by the provider itself; agencies establish identifiers directly instead.
    if identifier.provider_id not in principal.provider_ids():
        raise PermissionDeniedException("Only the provider's own staff prove its identifiers.")
    return identifier


def _context(session: Session, settings: Settings, identifier: ProviderIdentifier) -> dict[str, Any]:
    method = proofs.proof_method(identifier)
    return {
        "identifier": identifier,
        "provider_name": display_name(session, identifier.provider_id),
        "method": method,
        "challenge": proofs.open_challenge(session, identifier.id or 0),
        "well_known_url": proofs.well_known_url(identifier, settings) if method == "well-known" else None,
    }


class IdentifierProofPages(Controller):
    path = "/staff/identifiers/{identifier_id:int}/proof"
    include_in_schema = False
    guards = [signed_in]

    @get("/", sync_to_thread=True)
    def page(
        self, request: Request[Any, Any, Any], db: DatabaseDep, settings: SettingsDep, identifier_id: FromPath[int]
    ) -> Template:
        with db.read() as session:
            context = _context(session, settings, _own_identifier(session, principal_of(request), identifier_id))
        return Template("providers/proof.html", context={**context, "values": {}, "errors": {}})

    @post("/challenge", sync_to_thread=True)
    def challenge(
        self, request: Request[Any, Any, Any], db: DatabaseDep, settings: SettingsDep, identifier_id: FromPath[int]
    ) -> Redirect:
        principal = principal_of(request)
        with db.write() as session:
            identifier = _own_identifier(session, principal, identifier_id)
            proofs.issue_challenge(session, identifier, actor=principal.actor, settings=settings)
        return done(request, f"/staff/identifiers/{identifier_id}/proof", "A new challenge was issued.")

    @post("/", sync_to_thread=True)
    def verify(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        settings: SettingsDep,
        identifier_id: FromPath[int],
        data: FormData,
    ) -> Template | Redirect:
        principal = principal_of(request)
        challenge_id = text(data, "challenge_id")
        try:
            with db.read() as session:
                _own_identifier(session, principal, identifier_id)
                challenge = proofs.open_challenge(session, identifier_id)
                if challenge is None or str(challenge.id) != challenge_id:
                    raise ValidationFailed({"challenge": "this challenge is no longer open; ask for a new one"})
            # The check fetches from the provider's server: no transaction is open while it waits.
            signature = text(data, "signature") or None
            proven = proofs.verify_proof(
                db, challenge.id or 0, actor=principal.actor, settings=settings, signature=signature
            )
            provider_id = proven.provider_id
        except (ValidationFailed, Conflict) as error:
            with db.read() as session:
                context = _context(session, settings, _own_identifier(session, principal, identifier_id))
            return form_page("providers/proof.html", context, data, error)
        return done(request, f"/staff/providers/{provider_id}", "Control proven: the identifier now resolves.")
