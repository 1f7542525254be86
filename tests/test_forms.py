"""Form errors in people's words: labels for error keys, and website errors that speak of websites."""

from __future__ import annotations

from litestar.testing import TestClient

from registry.forms import field_label
from tests.conftest import post_form, sign_in
from tests.factories import World


class TestFieldLabels:
    def test_self_assessment_keys_name_the_standard(self) -> None:
        assert field_label("1.9.rating") == "Standard 1.9, rating"
        assert field_label("1.10.evidence_links[0]") == "Standard 1.10, evidence link 1"
        assert field_label("1.2.narrative") == "Standard 1.2, narrative"

    def test_form_keys_read_as_words(self) -> None:
        assert field_label("related_provider_id") == "provider"
        assert field_label("suspended_to") == "suspended until"
        assert field_label("display_name") == "display name"


class TestWebsiteErrors:
    def test_a_bad_website_is_called_a_website_in_the_summary_and_next_to_the_field(
        self, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        response = post_form(
            client,
            "/staff/providers/",
            {"name": "Typo College", "country": "NL", "provider_type": "other", "website": "ftp://typo.example"},
        )
        assert response.status_code == 400
        assert "issuer URL" not in response.text
        assert "a website address must start with https:// or http://" in response.text
        summary = post_form(
            client,
            "/staff/providers/",
            {"name": "", "country": "NL", "provider_type": "other", "founded_on": "2020-01-01", "closed_on": "2019"},
        ).text
        assert '<a href="#f-closed_on">closure date</a>' in summary
