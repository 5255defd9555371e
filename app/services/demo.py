"""Set up the demonstration: sample parishes, SYNTHETIC incidents, one analysis, a token."""

from __future__ import annotations

import tempfile
from pathlib import Path

from app.security import hash_token, new_token
from app.services import analyses
from app.services.boundaries import BoundaryOptions, upload_boundary_set
from app.services.incident_import import import_incidents
from app.settings import Settings
from app.store.backends import Store
from spatial.incidents_io import ReadOptions
from spatial.synthetic import write_synthetic_csv

DEMO_SOURCE = "SYNTHETIC-demo"
DEMO_USER = "demo-admin"


def prepare_demo(store: Store, settings: Settings, *, sample_boundaries: Path, attribution: str,
                 incidents: int = 6000, seed: int = 2026) -> dict:
    """Idempotent: loads what is missing and returns the ids and a fresh token."""
    if store.boundaries.active_boundary_set_id() is None:
        upload_boundary_set(
            store, sample_boundaries, original_name=sample_boundaries.name,
            options=BoundaryOptions(name="St Kitts and Nevis parishes (sample)", attribution=attribution,
                                    activate=True),
            service_area=settings.service_area, max_bytes=settings.max_upload_bytes,
        )
    with tempfile.TemporaryDirectory(prefix="hotspots-demo-") as folder:
        path = write_synthetic_csv(Path(folder) / "synthetic_incidents.csv", incidents, seed)
        report = import_incidents(store, path, filename="SYNTHETIC demo incidents", source=DEMO_SOURCE,
                                  options=ReadOptions(timezone=settings.zone))
    run_id = analyses.submit(store, analyses.AnalysisRequest(resolution=9, permutations=999, seed=seed),
                             settings=settings, user_id=None)
    analyses.execute(store, run_id)
    # A shared run too (no sensitive categories, resolution 8), which partners and viewers can open.
    shared_id = analyses.submit(store, analyses.AnalysisRequest(resolution=8, permutations=999, seed=seed,
                                                                  audience="shared"),
                                settings=settings, user_id=None)
    analyses.execute(store, shared_id)
    user = store.accounts.find_user(DEMO_USER) or store.accounts.create_user(DEMO_USER, "admin")
    token = new_token()
    store.accounts.add_token(user.id, hash_token(token), label="demo")
    store.session.commit()
    return {"run_id": run_id, "shared_run_id": shared_id, "token": token, "inserted": report.inserted}
