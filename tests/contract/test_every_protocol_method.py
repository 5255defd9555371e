"""Every method of every store protocol is used by the contract suite, on both backends.

A new store operation is a protocol method with a PostGIS and a SQLite
implementation; this test fails until a contract test (directly or through a
service) has run it on both.
"""

from __future__ import annotations

import pytest

from tests.contract.conftest import BACKENDS, CONTRACT_RUN, EXERCISED, PROTOCOLS, protocol_methods


def test_the_protocols_cover_every_part_of_the_store():
    assert set(PROTOCOLS) == {"incidents", "boundaries", "runs", "counts", "tiles", "maps", "imports",
                              "accounts", "audit", "disclosure", "figures", "interventions", "briefs", "database"}


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_every_protocol_method_runs_on_both_backends(backend: str):
    if not CONTRACT_RUN["complete"]:
        pytest.skip("only a run of the whole contract suite shows what it uses")
    missing = sorted(f"{part}.{method}" for part, protocol in PROTOCOLS.items()
                     for method in protocol_methods(protocol) - {m for p, m in EXERCISED[backend] if p == part})
    assert not missing, f"never run on {backend} by tests/contract: {', '.join(missing)}"
