"""Tests for hotspots.crs: choosing the analysis CRS and moving coordinates in and out of it."""

from __future__ import annotations

import numpy as np
import pytest

from hotspots import InputError
from hotspots.crs import BNG, choose_crs, in_great_britain, to_analysis, to_wgs84, utm_zone


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (-2.98, 53.41, 27700),  # Liverpool
        (-0.09, 51.51, 27700),  # City of London
        (-3.19, 55.95, 27700),  # Edinburgh
        (-1.29, 50.70, 27700),  # Isle of Wight
        (-6.30, 49.92, 27700),  # Isles of Scilly
        (-1.15, 60.15, 27700),  # Shetland
        (-4.50, 54.20, 27700),  # Isle of Man (BNG covers it)
        (1.30, 51.13, 27700),  # Dover
        (-5.93, 54.60, 32630),  # Belfast: Northern Ireland is not Great Britain
        (-6.26, 53.35, 32629),  # Dublin
        (1.85, 50.95, 32631),  # Calais
        (1.60, 50.72, 32631),  # Boulogne, inside the GB envelope
        (-2.53, 49.45, 32630),  # Guernsey
        (-87.63, 41.88, 32616),  # Chicago
        (-90.05, 35.15, 32615),  # Memphis (west of 90 W)
        (151.21, -33.87, 32756),  # Sydney: southern hemisphere
        (5.32, 60.39, 32632),  # Bergen: Norway exception (would be 31)
        (15.6, 78.2, 32633),  # Longyearbyen: Svalbard exception
    ],
)
def test_choose_crs_known_places(lon, lat, epsg):
    crs, reason = choose_crs([lon], [lat])
    assert crs.to_epsg() == epsg
    assert str(epsg) in reason


def test_reason_text_for_great_britain():
    _, reason = choose_crs([-2.98, -2.9], [53.41, 53.4])
    assert reason == "British National Grid (EPSG:27700): data in Great Britain"


def test_swapped_columns_of_british_data_are_pointed_out():
    # Liverpool with longitude and latitude exchanged lies off Somalia: UTM 39S, and the reason says
    crs, reason = choose_crs([53.41, 53.40, 53.42], [-2.98, -2.97, -2.99])
    assert crs.to_epsg() == 32739
    assert reason == (
        "WGS 84 / UTM zone 39S (EPSG:32739): the UTM zone of the data's median point "
        "(53.410, -2.980). With longitude and latitude exchanged the median point "
        "(-2.980, 53.410) lies in Great Britain: check the two columns are not swapped (name them "
        "explicitly with columns={'lon': ..., 'lat': ...})"
    )
    # places whose exchanged coordinates are not in Great Britain get no such words
    for lon, lat in [(-87.63, 41.88), (151.21, -33.87), (-6.26, 53.35), (53.35, -6.26)]:
        assert "exchanged" not in choose_crs([lon], [lat])[1]


def test_choose_crs_uses_the_median_not_outliers():
    lon = np.r_[np.full(99, -87.63), -0.1]
    lat = np.r_[np.full(99, 41.88), 51.5]
    assert choose_crs(lon, lat)[0].to_epsg() == 32616
    lon = np.r_[np.full(95, -0.09), np.full(5, -87.6)]
    lat = np.r_[np.full(95, 51.51), np.full(5, 41.9)]
    assert choose_crs(lon, lat)[0].to_epsg() == 27700


def test_choose_crs_ignores_nan_and_out_of_range():
    crs, _ = choose_crs([np.nan, 999.0, -2.98], [np.nan, 0.0, 53.41])
    assert crs.to_epsg() == 27700


def test_choose_crs_without_valid_points_raises_input_error():
    with pytest.raises(InputError):
        choose_crs([np.nan], [np.nan])


def test_antimeridian_median():
    # Fiji straddles 180: the median must stay near 180, not jump to 0
    crs, _ = choose_crs([179.9, -179.9, 179.8, -179.8, 179.95], [-17.0] * 5)
    assert crs.to_epsg() in (32760, 32701)


def test_utm_zone_edges():
    assert utm_zone(-180.0, 0.0) == 1
    assert utm_zone(179.99, 0.0) == 60
    assert utm_zone(3.5, 60.0) == 32
    assert utm_zone(3.5, 50.0) == 31


def test_in_great_britain_rejects_ireland_and_france():
    assert in_great_britain(-4.6, 53.3)  # Holyhead
    assert in_great_britain(-5.7, 55.4)  # Kintyre
    assert not in_great_britain(-7.37, 55.37)  # Malin Head
    assert not in_great_britain(1.08, 49.92)  # Dieppe


def test_trafalgar_square_to_bng_within_a_metre():
    # Trafalgar Square (Nelson's Column): OS grid reference TQ 30009 80453
    x, y = to_analysis(np.array([-0.12806]), np.array([51.50806]), BNG)
    assert x[0] == pytest.approx(530009.0, abs=1.0)
    assert y[0] == pytest.approx(180453.0, abs=1.0)


def test_round_trip_is_exact():
    lon = np.array([-87.6277, -87.6683])
    lat = np.array([41.7922, 41.7513])
    crs, _ = choose_crs(lon, lat)
    x, y = to_analysis(lon, lat, crs)
    lon2, lat2 = to_wgs84(x, y, crs)
    np.testing.assert_allclose(lon2, lon, atol=1e-9)
    np.testing.assert_allclose(lat2, lat, atol=1e-9)
    # the two points are ~5.7 km apart on the ground (UTM scale error < 0.1 %)
    assert np.hypot(x[0] - x[1], y[0] - y[1]) == pytest.approx(5698, rel=0.01)


def test_transformer_is_made_once_and_projects_as_pyproj_does():
    import pyproj

    from hotspots.crs import BNG, WGS84, transformer, utm_crs

    t = transformer(BNG, WGS84)
    assert transformer("EPSG:27700", 4326) is t
    assert transformer(WGS84, BNG) is not t
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 700_000, 500), rng.uniform(0, 1_250_000, 500)
    for crs in (BNG, utm_crs(-87.6, 41.8)):
        ref = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
        got = transformer(crs, WGS84).transform(x, y)
        want = ref.transform(x, y)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    # Trafalgar Square: TQ 29980 80430 is about 0.128 W, 51.508 N
    lon, lat = t.transform(529_980.0, 180_430.0)
    assert lon == pytest.approx(-0.128, abs=1e-3)
    assert lat == pytest.approx(51.508, abs=1e-3)
