"""Operators read the outbox: the embedded default keeps every message there, and failures wait there."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template

from registry.accounts.guards import operator_only, principal_of
from registry.errors import NotFound
from registry.flash import done
from registry.mail import services
from registry.mail.models import OutboxMessage
from registry.web import DatabaseDep

PAGE_SIZE = 50


class OutboxPages(Controller):
    path = "/staff/outbox"
    include_in_schema = False
    guards = [operator_only]

    @get("/", sync_to_thread=True)
    def index(self, db: DatabaseDep, page: Annotated[int, Parameter(ge=1, le=100000)] = 1) -> Template:
        with db.read() as session:
            context = {
                "counts": services.outbox_counts(session),
                "failing": services.failing(session),
                "messages": services.recent(session, PAGE_SIZE, (page - 1) * PAGE_SIZE),
                "page": page,
                "page_size": PAGE_SIZE,
            }
        return Template("mail/outbox.html", context=context)

    @get("/{message_id:int}", sync_to_thread=True)
    def message(self, db: DatabaseDep, message_id: Annotated[int, Parameter()]) -> Template:
        with db.read() as session:
            found = session.get(OutboxMessage, message_id)
            if found is None:
                raise NotFound(f"There is no outbox message with id {message_id}.")
        return Template("mail/message.html", context={"message": found})

    @post("/{message_id:int}/retry", sync_to_thread=True)
    def retry(
        self, request: Request[Any, Any, Any], db: DatabaseDep, message_id: Annotated[int, Parameter()]
    ) -> Redirect:
        with db.write() as session:
            services.retry_now(session, message_id, principal_of(request).actor)
        return done(request, f"/staff/outbox/{message_id}", "The message will be sent again at once.")
