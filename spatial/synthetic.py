"""Seeded SYNTHETIC incidents for demos and benchmarks (never real police data).

Incidents cluster around the towns of St Kitts and Nevis with a thin random
background, over a year, in several categories including drug offences.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# (lat, lon, weight, spread in degrees): Basseterre, Sandy Point, Cayon, Charlestown, Gingerland.
TOWNS = np.array([
    [17.2955, -62.7261, 0.45, 0.006],
    [17.3580, -62.8420, 0.12, 0.004],
    [17.3370, -62.7500, 0.10, 0.004],
    [17.1385, -62.6230, 0.23, 0.005],
    [17.1050, -62.5790, 0.10, 0.004],
])
BACKGROUND_BOX = (17.10, 17.40, -62.86, -62.55)  # south, north, west, east
CATEGORIES = ("Theft", "Burglary", "Assault", "Robbery", "Drug offence", "Vandalism", "Firearm offence")
CATEGORY_WEIGHTS = (0.28, 0.16, 0.17, 0.08, 0.15, 0.11, 0.05)
HEADER = "id,date,category,latitude,longitude,description\n"


def synthetic_incidents(n: int, seed: int, start: str = "2025-01-01", days: int = 365,
                        background_share: float = 0.15) -> dict[str, np.ndarray]:
    """``n`` seeded synthetic incidents as columns (id, date, category, latitude, longitude)."""
    rng = np.random.default_rng(seed)
    town = rng.choice(len(TOWNS), size=n, p=TOWNS[:, 2] / TOWNS[:, 2].sum())
    lat = TOWNS[town, 0] + rng.normal(0, 1, n) * TOWNS[town, 3]
    lon = TOWNS[town, 1] + rng.normal(0, 1, n) * TOWNS[town, 3]
    background = rng.random(n) < background_share
    south, north, west, east = BACKGROUND_BOX
    lat[background] = rng.uniform(south, north, background.sum())
    lon[background] = rng.uniform(west, east, background.sum())
    seconds = rng.integers(0, days * 86400, n)
    dates = (np.datetime64(f"{start}T00:00:00") + seconds.astype("timedelta64[s]")).astype(str)
    category = np.array(CATEGORIES)[rng.choice(len(CATEGORIES), size=n, p=CATEGORY_WEIGHTS)]
    ids = np.char.add("SYN", np.char.zfill(np.arange(n).astype(str), 8))
    return {"id": ids, "date": dates, "category": category, "latitude": lat, "longitude": lon}


def write_synthetic_csv(path: Path, n: int, seed: int, **kwargs) -> Path:
    """Write ``n`` synthetic incidents as CSV, streaming in blocks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        out.write(HEADER)
        for first in range(0, n, 200_000):
            size = min(200_000, n - first)
            block = synthetic_incidents(size, seed + first, **kwargs)
            ids = np.char.add("SYN", np.char.zfill(np.arange(first, first + size).astype(str), 8))
            out.writelines(
                f"{i},{d},{c},{a:.6f},{b:.6f},SYNTHETIC demo incident\n"
                for i, d, c, a, b in zip(ids, block["date"], block["category"], block["latitude"], block["longitude"])
            )
    return path
