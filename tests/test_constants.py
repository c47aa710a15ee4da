"""Tests for hotspots.constants: the shared numbers are the ones every module and the knowledge
base use."""

from __future__ import annotations

import inspect

import pytest

from hotspots import constants as c
from hotspots.clusters import DEFAULT_EPS_M
from hotspots.evaluate import grid_concentration_curve
from hotspots.gistar import DEFAULT_CELL_M
from hotspots.kde import MICRO_PLACE_BANDWIDTH_M, KDEHotspots, threshold_level
from hotspots.patrol import make_patrol_areas, make_patrol_plan
from hotspots.profile import MICRO_PLACE_RADIUS_M, PATROL_UNIT_M2
from hotspots.tactics import load_knowledge_base
from hotspots.workflows import write_plan_outputs


def test_micro_place_numbers():
    assert c.MICRO_PLACE_M == 150.0
    assert c.MICRO_PLACE_RADIUS_M == 75.0
    assert c.PATROL_UNIT_M2 == 22_500.0  # 2.25 ha
    assert (MICRO_PLACE_BANDWIDTH_M, DEFAULT_CELL_M) == (150.0, 150.0)
    assert (DEFAULT_EPS_M, MICRO_PLACE_RADIUS_M, PATROL_UNIT_M2) == (75.0, 75.0, 22_500.0)


def test_knowledge_base_carries_the_same_values():
    kb = load_knowledge_base()
    assert kb.constant("micro_place_m") == c.MICRO_PLACE_M
    assert kb.constant("visit_minutes") == c.VISIT_MINUTES
    assert kb.constant("min_visit_minutes") == c.MIN_VISIT_MINUTES
    assert kb.constant("max_gap_days") == c.MAX_GAP_DAYS
    assert (kb.constant("nte_start_hour"), kb.constant("nte_end_hour")) == c.NIGHT_WINDOW


def _default(func, name):
    return inspect.signature(func).parameters[name].default


@pytest.mark.parametrize(
    ("func", "name", "value"),
    [
        (make_patrol_areas, "radius_m", c.MICRO_PLACE_RADIUS_M),
        (make_patrol_areas, "min_incidents", c.MIN_AREA_INCIDENTS),
        (make_patrol_plan, "days", c.PLAN_DAYS),
        (make_patrol_plan, "officer_hours", c.OFFICER_HOURS),
        (make_patrol_plan, "officers_per_patrol", c.OFFICERS_PER_PATROL),
        (make_patrol_plan, "visit_minutes", c.VISIT_MINUTES),
        (make_patrol_plan, "visits_per_day", c.VISITS_PER_DAY),
        (make_patrol_plan, "control_share", c.CONTROL_SHARE),
        (make_patrol_plan, "max_gap_days", c.MAX_GAP_DAYS),
        (make_patrol_plan, "travel_minutes", c.TRAVEL_MINUTES),
        (write_plan_outputs, "days", c.PLAN_DAYS),
        (write_plan_outputs, "radius_m", c.MICRO_PLACE_RADIUS_M),
        (write_plan_outputs, "visit_minutes", c.VISIT_MINUTES),
        (KDEHotspots, "coverage", c.HOTSPOT_COVERAGE),
        (threshold_level, "coverage", c.HOTSPOT_COVERAGE),
        (grid_concentration_curve, "cell_size", c.MICRO_PLACE_M),
    ],
)
def test_functions_default_to_the_constants(func, name, value):
    assert _default(func, name) == value


def test_plan_defaults_from_the_guide():
    # D1: 15-minute visits, never under 10; D3: at most 3 days apart; D5: two officers
    assert (c.VISIT_MINUTES, c.MIN_VISIT_MINUTES, c.MAX_GAP_DAYS) == (15, 10, 3)
    assert (c.OFFICERS_PER_PATROL, c.VISITS_PER_DAY) == (2, 1)
    assert c.MIN_VISIT_MINUTES <= c.VISIT_MINUTES <= c.MAX_VISIT_MINUTES
