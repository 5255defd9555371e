"""The database as a second wall: below-analyst requests run as a role that cannot read
raw incidents, whatever the code above it does; every connection has a statement timeout."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from app.db import make_engine
from app.store import incidents as incident_store
from app.store.session_roles import restrict, unrestrict


def test_restricted_role_cannot_read_incidents_even_through_the_store(session):
    restrict(session)
    try:
        with pytest.raises(ProgrammingError, match="permission denied"):
            with session.begin_nested():
                incident_store.list_incidents(session, incident_store.IncidentFilter(), after_id=None, limit=1)
        for table in ("incidents", "api_tokens", "users", "imports"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                with session.begin_nested():
                    session.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
        # ...but the aggregate-only function answers, with k enforced inside the database
        rows = session.execute(text("SELECT count(*) FROM community_incident_totals(0)")).scalar_one()
        assert rows == 0
    finally:
        session.rollback()
        unrestrict(session)


def test_viewer_requests_run_as_the_restricted_role(client, tokens, session, monkeypatch):
    from app.auth import sign_in  # the sign-in service decides who runs as the restricted role

    seen = []
    original = sign_in.restrict

    def spy(db_session):
        original(db_session)
        seen.append(db_session.execute(text("SELECT current_user")).scalar_one())

    monkeypatch.setattr(sign_in, "restrict", spy)
    client.get("/api/v1/communities", headers={"Authorization": f"Bearer {tokens['viewer']}"})
    client.get("/api/v1/communities", headers={"Authorization": f"Bearer {tokens['analyst']}"})
    assert seen == ["hotspots_restricted"]  # only the viewer's request
    assert session.execute(text("SELECT current_user")).scalar_one() != "hotspots_restricted"


def test_connections_have_a_statement_timeout(settings):
    engine = make_engine(settings.model_copy(update={"statement_timeout_ms": 1234}))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "1234ms"
    finally:
        engine.dispose()


def test_request_sessions_keep_the_restricted_role_across_commits(settings):
    """Production sessions (one connection per request), not the test's savepoint fixture."""
    from app.db import RequestSessions

    engine = make_engine(settings)
    try:
        with RequestSessions(engine)() as session:
            restrict(session)
            session.commit()
            session.rollback()
            assert session.execute(text("SELECT current_user")).scalar_one() == "hotspots_restricted"
            session.commit()
            with pytest.raises(ProgrammingError, match="permission denied"):
                session.execute(text("SELECT 1 FROM incidents LIMIT 1"))
        with engine.connect() as connection:  # back in the pool, the role is reset
            assert connection.execute(text("SELECT current_user")).scalar_one() != "hotspots_restricted"
    finally:
        engine.dispose()


def test_a_restricted_request_refuses_to_run_on_a_connection_that_lost_the_role(settings):
    from app.db import LostRestrictedRole, RESTRICTED_MARK, RequestSessions

    engine = make_engine(settings)
    try:
        with RequestSessions(engine)() as session:
            restrict(session)
            session.connection().info.pop(RESTRICTED_MARK)  # as after a silent reconnect
            with pytest.raises(LostRestrictedRole):
                session.execute(text("SELECT 1"))
            session.rollback()
            session.info.pop("restricted")
            unrestrict(session)
    finally:
        engine.dispose()


def test_restricted_role_sees_only_shared_runs_and_their_cells(session):
    set_id = session.execute(text(
        "INSERT INTO boundary_sets (name) VALUES ('rls') RETURNING id")).scalar_one()
    community = session.execute(text(
        "INSERT INTO communities (boundary_set_id, name, area_km2, geom) VALUES (:s, 'c', 1, "
        "ST_Multi(ST_MakeEnvelope(0, 0, 1, 1, 4326))) RETURNING id"), {"s": set_id}).scalar_one()
    runs = {}
    for audience in ("police", "shared"):
        runs[audience] = session.execute(text(
            "INSERT INTO hotspot_runs (status, parameters, seed, boundary_set_id, audience) "
            "VALUES ('completed', '{}', 1, :s, :a) RETURNING id"), {"s": set_id, "a": audience}).scalar_one()
        session.execute(text(
            "INSERT INTO hotspot_cells (run_id, cell, community_id, incidents, gi_bin, lisa_quadrant, lisa_label, geom) "
            "VALUES (:r, 1, :c, 7, 0, 0, 'x', ST_MakeEnvelope(0, 0, 1, 1, 4326))"),
            {"r": runs[audience], "c": community})
    session.commit()
    restrict(session)
    try:
        seen_runs = set(session.execute(text("SELECT id FROM hotspot_runs")).scalars())
        seen_cells = set(session.execute(text("SELECT run_id FROM hotspot_cells")).scalars())
        assert runs["shared"] in seen_runs and runs["police"] not in seen_runs
        assert seen_cells == {runs["shared"]}
    finally:
        session.rollback()
        unrestrict(session)
    assert {runs["police"], runs["shared"]} <= set(session.execute(text("SELECT id FROM hotspot_runs")).scalars())


def _shared_run_with_cells(session, counts: list[int]) -> int:
    set_id = session.execute(text("INSERT INTO boundary_sets (name) VALUES ('wall') RETURNING id")).scalar_one()
    community = session.execute(text(
        "INSERT INTO communities (boundary_set_id, name, area_km2, geom) VALUES (:s, 'c', 1, "
        "ST_Multi(ST_MakeEnvelope(0, 0, 1, 1, 4326))) RETURNING id"), {"s": set_id}).scalar_one()
    run = session.execute(text(
        "INSERT INTO hotspot_runs (status, parameters, seed, boundary_set_id, audience) "
        "VALUES ('completed', '{}', 1, :s, 'shared') RETURNING id"), {"s": set_id}).scalar_one()
    for cell, count in enumerate(counts, start=1):
        session.execute(text(
            "INSERT INTO hotspot_cells (run_id, cell, community_id, incidents, gi_z, gi_p, lisa_i, gi_bin, "
            "lisa_quadrant, lisa_label, geom) VALUES (:r, :cell, :c, :n, 1.5, 0.1, 0.3, 0, 0, 'x', "
            "ST_MakeEnvelope(0, 0, 1, 1, 4326))"), {"r": run, "c": community, "cell": cell, "n": count})
    session.commit()
    return run


def test_restricted_role_cannot_read_exact_cell_counts_of_shared_runs(session):
    """Issue 20: the restricted role read counts under k of shared runs straight from hotspot_cells."""
    run = _shared_run_with_cells(session, [1, 2, 4, 5, 9])
    restrict(session)
    try:
        for column in ("incidents", "gi_z", "gi_p", "lisa_i", "gi_p_fdr", "lisa_p_sim", "*"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                with session.begin_nested():
                    session.execute(text(f"SELECT {column} FROM hotspot_cells WHERE run_id = :r"), {"r": run})
        # The classes and the geometry stay readable; counts come only through the published view.
        assert session.execute(text("SELECT count(gi_bin) FROM hotspot_cells WHERE run_id = :r"),
                               {"r": run}).scalar_one() == 5
        published = dict(session.execute(text("SELECT cell, incidents FROM published_cells WHERE run_id = :r"),
                                         {"r": run}).all())
        assert published == {1: None, 2: None, 3: None, 4: 5, 5: 9}
        columns = set(session.execute(text("SELECT * FROM published_cells LIMIT 0")).keys())
        assert not columns & {"gi_z", "gi_p", "gi_p_sim", "gi_p_fdr", "lisa_i", "lisa_p_sim", "lisa_p_fdr"}
    finally:
        session.rollback()
        unrestrict(session)


def test_restricted_role_cannot_choose_k_or_the_sensitive_list(session):
    """Issue 20: the breakdown function took the caller's exclusion list and k (k = 0 gave every count)."""
    restrict(session)
    try:
        for call in ("community_incident_totals(1, ARRAY[]::text[], 0, 0)",
                     "community_incident_breakdown(1, ARRAY[]::text[], 0, 0, 'UTC')"):
            with pytest.raises(ProgrammingError, match="does not exist"):
                with session.begin_nested():
                    session.execute(text(f"SELECT * FROM {call}"))
        for statement in ("UPDATE privacy_rules SET min_count = 3",
                          "UPDATE incident_categories SET sensitive = false",
                          "DELETE FROM sensitive_terms", "SELECT * FROM privacy_rules",
                          "INSERT INTO incident_categories (name, sensitive) VALUES ('x', false)"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                with session.begin_nested():
                    session.execute(text(statement))
        # The functions the role may call take no k and no list: they read the owner's tables.
        signatures = set(session.execute(text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE proname LIKE 'community_incident_%' "
            "AND has_function_privilege('hotspots_restricted', p.oid, 'EXECUTE')")).scalars())
        assert signatures == {"community_incident_totals(bigint)", "community_incident_breakdown(bigint,text)"}
    finally:
        session.rollback()
        unrestrict(session)


def test_the_database_applies_the_owner_k(session):
    run = _shared_run_with_cells(session, [4, 5, 6])
    session.execute(text("UPDATE privacy_rules SET min_count = 6"))
    session.commit()
    restrict(session)
    try:
        shown = sorted(session.execute(text("SELECT incidents FROM published_cells WHERE run_id = :r"),
                                       {"r": run}).scalars(), key=lambda v: (v is not None, v))
        assert shown == [None, None, 6]
    finally:
        session.rollback()
        unrestrict(session)
