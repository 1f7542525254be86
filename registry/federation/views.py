"""The page behind the trust mark's identifier: what the mark and policy esg-2015/v1 mean."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from registry.federation.services import trust_mark_type
from registry.trust.verdict import POLICY
from registry.web import SettingsDep


class TrustMarkPage(Controller):
    path = "/trust-marks"
    include_in_schema = False

    @get("/esg-2015", sync_to_thread=False)
    def esg_2015(self, settings: SettingsDep) -> Template:
        return Template(
            "federation/trust_mark.html",
            context={"trust_mark_type": trust_mark_type(settings), "policy": POLICY, "base_url": settings.base_url},
        )
