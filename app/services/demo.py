"""Set up the demonstration: sample parishes, SYNTHETIC incidents and populations, analyses, a token.

No census figures by parish are shipped (no published table by parish could be cited; see
app/data/README.md), so the demo's populations and its one indicator are SYNTHETIC too, and
their source says so wherever they are shown.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from app.security import hash_token, new_token
from app.services import analyses
from app.services.figures import FigureUpload, upload_figures
from app.services.boundaries import BoundaryOptions, upload_boundary_set
from app.services.incident_import import import_incidents
from app.settings import Settings
from app.store.backends import Store
from spatial.incidents_io import ReadOptions
from spatial.synthetic import write_synthetic_csv

DEMO_SOURCE = "SYNTHETIC-demo"
DEMO_USER = "demo-admin"
SYNTHETIC_POPULATIONS = "SYNTHETIC demo populations (made up, not census figures)"
SYNTHETIC_INDICATOR = "SYNTHETIC demo indicator (made up)"


def add_synthetic_figures(store: Store, seed: int = 2026) -> None:
    """Made-up populations (1,000 to 13,000 a community) and a made-up indicator for the active set, unless
    a population is already there; labelled SYNTHETIC in their source."""
    set_id = store.boundaries.active_boundary_set_id()
    if set_id is None or store.figures.active_figure(set_id, "population", "population") is not None:
        return
    names = [s["name"] for s in store.boundaries.community_shapes(set_id, None)]
    rng = np.random.default_rng(seed)
    residents = rng.integers(1_000, 13_001, len(names))
    young = np.round(rng.uniform(15, 35, len(names)), 1)
    with tempfile.TemporaryDirectory(prefix="hotspots-demo-") as folder:
        path = Path(folder) / "figures.csv"
        path.write_text("community,population\n" + "".join(f"{n},{p}\n" for n, p in zip(names, residents)))
        upload_figures(store, path, filename="SYNTHETIC populations", user_id=None,
                       upload=FigureUpload(kind="population", source=SYNTHETIC_POPULATIONS, unit="residents"))
        path.write_text("community,young people share\n" + "".join(f"{n},{v}\n" for n, v in zip(names, young)))
        upload_figures(store, path, filename="SYNTHETIC indicator", user_id=None,
                       upload=FigureUpload(kind="indicator", source=SYNTHETIC_INDICATOR, unit="%"))


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
    add_synthetic_figures(store, seed)
    run_id = analyses.submit(store, analyses.AnalysisRequest(resolution=9, permutations=999, seed=seed),
                             settings=settings, user_id=None)
    analyses.execute(store, run_id)
    # A shared run too (no sensitive categories, resolution 8), which partners and viewers can open.
    shared_id = analyses.submit(store, analyses.AnalysisRequest(resolution=8, permutations=999, seed=seed,
                                                                  audience="shared"),
                                settings=settings, user_id=None)
    analyses.execute(store, shared_id)
    # Hot spots of risk (per resident, on the SYNTHETIC populations).
    rate_id = analyses.submit(store, analyses.AnalysisRequest(resolution=9, seed=seed, value="rate"),
                              settings=settings, user_id=None)
    analyses.execute(store, rate_id)
    user = store.accounts.find_user(DEMO_USER) or store.accounts.create_user(DEMO_USER, "admin")
    token = new_token()
    store.accounts.add_token(user.id, hash_token(token), label="demo")
    store.session.commit()
    return {"run_id": run_id, "shared_run_id": shared_id, "rate_run_id": rate_id, "token": token, "inserted": report.inserted}
