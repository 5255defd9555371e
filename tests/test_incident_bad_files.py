"""Every awkward or hostile incident file is refused or partly accepted as the rules say,
and the database is checksummed before and after to prove nothing else changed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.bad_incidents import BAD_INCIDENT_FILES
from tests.conftest import auth

# Every table's rows; for tokens, all but last_used_at (each request updates it).
TABLES = {
    "incidents": "t", "imports": "t", "boundary_sets": "t", "communities": "t", "users": "t",
    "api_tokens": "(t.id, t.user_id, t.token_hash, t.label, t.created_at, t.revoked_at)",
}


def checksum(store) -> dict[str, str]:
    """An md5 of every row of each table (ordered by its text form)."""
    return {
        table: store.session.execute(text(
            f"SELECT md5(coalesce(string_agg({row}::text, '|' ORDER BY {row}::text), '')) FROM {table} t"
        )).scalar_one()
        for table, row in TABLES.items()
    }


def test_corpus_has_at_least_25_cases():
    assert len(BAD_INCIDENT_FILES) >= 25


# St Kitts and Nevis, so swapped coordinates fall outside the service area.
SERVICE_AREA = (-63.0, 17.0, -62.4, 17.5)


@pytest.mark.parametrize("case", sorted(BAD_INCIDENT_FILES))
def test_bad_incident_file(app, client, store, tokens, tmp_path, case):
    app.state.settings = app.state.settings.model_copy(update={"service_area": SERVICE_AREA})
    path, expected = BAD_INCIDENT_FILES[case](tmp_path)
    before = checksum(store)
    with path.open("rb") as handle:
        response = client.post("/api/v1/incidents/imports", headers=auth(tokens["analyst"]),
                               files={"file": (path.name, handle)}, data={"source": f"corpus-{case}"})
    assert response.status_code < 500, response.text
    if expected[0] == "refused":
        assert 400 <= response.status_code < 500, response.text
        message = response.json()["error"]["message"]
        assert expected[1] in message, message
        assert "Traceback" not in message
        assert checksum(store) == before
        return
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["inserted"], body["rejected"]) == expected[1:], body
    after = checksum(store)
    assert {t for t in TABLES if after[t] != before[t]} == {"incidents", "imports"}
    stored = store.session.execute(text("SELECT count(*) FROM incidents WHERE source = :s"),
                             {"s": f"corpus-{case}"}).scalar_one()
    assert stored == expected[1]
