"""End to end: incidents -> detect -> ranked hot spots, on data with known answers and real data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from hotspots import Incidents, ParameterError
from hotspots.clusters import csr_min_samples
from hotspots.demo import generate_demo
from hotspots.detect import default_parameters, detect
from hotspots.export import to_geojson
from hotspots.ingest import read_incidents

PLANTED_METHODS = ["kde", "dbscan", "gistar"]


@pytest.fixture(scope="module")
def demo_incidents(demo_csv):
    return read_incidents(demo_csv)


def _recall_precision(hotspots, centres, k):
    top = hotspots[hotspots["significant"]].head(k)
    recall = np.mean([bool(top.buffer(10).contains(shapely.Point(c)).any()) for c in centres])
    precision = np.mean(
        [any(g.buffer(10).contains(shapely.Point(c)) for c in centres) for g in top.geometry]
    )
    return recall, precision


def _planted_town(seed):
    """12 km x 12 km town: 8 planted ~100 m hot spots of 30-80 incidents, 2,000 uniform others."""
    rng = np.random.default_rng(seed)
    centres = np.column_stack(
        [
            rng.permutation(np.arange(1000, 11000, 1250))[:8],
            rng.permutation(np.arange(1000, 11000, 1250))[:8],
        ]
    ).astype(float)
    x = [rng.uniform(0, 12000, 2000)]
    y = [rng.uniform(0, 12000, 2000)]
    for cx, cy in centres:
        k = int(rng.integers(30, 81))
        x.append(rng.normal(cx, 35, k))
        y.append(rng.normal(cy, 35, k))
    offset = np.array([400000.0, 300000.0])
    inc = Incidents.from_xy(
        np.concatenate(x) + offset[0],
        np.concatenate(y) + offset[1],
        study_area=shapely.box(400000, 300000, 412000, 312000),
    )
    return inc, centres + offset


@pytest.mark.parametrize("method", [*PLANTED_METHODS, "hdbscan"])
@pytest.mark.parametrize("seed", [1, 2])
def test_planted_hot_spots_are_the_top_ranked(method, seed):
    inc, centres = _planted_town(seed)
    hs = detect(inc, method).hotspots
    assert list(hs["rank"]) == list(range(1, len(hs) + 1))
    recall, precision = _recall_precision(hs, centres, k=8)
    assert recall >= 0.9 and precision >= 0.9


@pytest.mark.parametrize("method", PLANTED_METHODS)
def test_demo_planted_hot_spots_found(demo_incidents, method):
    """The demo town has a dense centre, so its busiest background places compete with the
    weakest planted spots (42 incidents a year); all planted spots are still in the top ten."""
    _, truth = generate_demo()
    hs = detect(demo_incidents, method).hotspots
    recall, precision = _recall_precision(hs, truth.centres, k=10)
    assert recall >= 0.9
    assert precision >= 0.6


def test_demo_profiles_match_what_was_planted(demo_incidents):
    _, truth = generate_demo()
    hs = detect(demo_incidents, "kde").hotspots

    def spot(name):
        s = next(s for s in truth.spots if s.name == name)
        return hs[hs.contains(shapely.Point(s.x, s.y))].iloc[0]

    canal = spot("Canal subway")  # planted with night-time timing, away from the busy centre
    assert canal["temporal_class"] == "chronic" and canal["night_share"] > 0.8
    club = spot("Nightclub strip")  # in the town centre: its polygon also holds daytime background
    assert club["night_share"] > 0.5
    assert canal["peak_days"] is not None and set(canal["peak_days"]) <= {3, 4, 5, 6}
    assert spot("New bar quarter")["temporal_class"] == "emerging"
    assert spot("New bar quarter")["first_month"] == "2025-09"
    assert spot("Shopping street")["night_share"] < 0.3


@pytest.mark.parametrize("method", PLANTED_METHODS)
@pytest.mark.parametrize("seed", [11, 12])
def test_pure_noise_reports_nothing_significant(method, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10000, 3000) + 400000
    y = rng.uniform(0, 10000, 3000) + 300000
    inc = Incidents.from_xy(x, y, study_area=shapely.box(400000, 300000, 410000, 310000))
    result = detect(inc, method)
    assert result.params["n_significant"] == 0
    assert not result.hotspots["significant"].any()


def test_params_record_everything_needed_to_reproduce(demo_incidents):
    result = detect(demo_incidents, "kde", bandwidth=120, coverage=0.01)
    p = result.params
    assert p["method_parameters"]["bandwidth"] == 120  # as given
    assert p["method_parameters"]["bandwidth_m"] == 120.0  # as used
    assert p["method_parameters"]["bandwidth_rule_used"] == "user"
    assert p["method_parameters"]["coverage"] == 0.01
    text = json.dumps(p)
    for key in (
        "crs",
        "data_period",
        "input_files",
        "version",
        "ingest",
        "ranking",
        "significance",
    ):
        assert key in p
    assert "120" in text
    assert p["data_period"] == ["2025-01", "2025-12"]
    doc = json.loads(to_geojson(result))
    assert doc["features"][0]["properties"]["hotspots_parameters"]["method"] == "kde"


def test_default_parameters_and_bad_method(demo_incidents):
    d = default_parameters(demo_incidents, "dbscan")
    assert json.loads(json.dumps(d)) == d  # plain JSON values, nothing lost
    assert d == detect(demo_incidents, "dbscan").params["method_parameters"]
    assert d["eps_m"] == 75.0 and d["min_samples_rule"] == "csr"
    n, area = len(demo_incidents), demo_incidents.study_area_m2
    assert d["min_samples"] == csr_min_samples(n, area, 75.0, 0.05)
    with pytest.raises(ParameterError, match="method"):
        detect(demo_incidents, "kmeans")
    with pytest.raises(ParameterError):
        detect(demo_incidents, "kde", eps=50)


@pytest.mark.shared_data
@pytest.mark.slow
def test_merseyside_end_to_end(shared_data):
    folder = shared_data / "police_uk" / "merseyside_2022-01_to_2022-06"
    inc = read_incidents(folder)
    assert inc.crs.to_epsg() == 27700
    assert inc.report.n_read == inc.report.n_used + inc.report.n_rejected == 94340
    for method in ("kde", "dbscan"):
        hs = detect(inc, method).hotspots
        sig = hs[hs["significant"]]
        assert len(sig) >= 10
        # the law of crime concentration: the top hot spots are small and far denser than average
        assert (sig.head(10)["pai"] > 10).all()
        # Liverpool city centre (about -2.985, 53.405) holds at least one of the top five
        top5 = sig.head(5)
        d = np.hypot(
            (top5["centroid_lon"] + 2.985) * 66_000, (top5["centroid_lat"] - 53.405) * 111_000
        )
        assert (d < 2500).any()


def test_demo_runs_are_labelled_synthetic(demo_incidents):
    result = detect(demo_incidents, "dbscan")
    assert result.params["synthetic"] is True
    assert result.params["forces"] == ["Synthetic Constabulary"]
    assert json.loads(to_geojson(result))["hotspots_parameters"]["synthetic"] is True


@pytest.mark.parametrize("side_m", [800, 3000])
def test_uniform_noise_from_a_csv_has_no_significant_hot_spot(tmp_path, side_m):
    """CSR read from a file (study area from the data): edge cells must not dilute the density."""
    import pyproj

    rng = np.random.default_rng(side_m)
    x = rng.uniform(0, side_m, 400) + 337000
    y = rng.uniform(0, side_m, 400) + 390000
    lon, lat = pyproj.Transformer.from_crs(27700, 4326, always_xy=True).transform(x, y)
    path = tmp_path / "noise.csv"
    path.write_text(
        "lat,lon\n" + "\n".join(f"{a:.6f},{b:.6f}" for a, b in zip(lat, lon, strict=True))
    )
    inc = read_incidents(path)
    for method in ("kde", "dbscan", "gistar"):
        assert detect(inc, method).params["n_significant"] == 0, method
