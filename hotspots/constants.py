"""The product's shared constants, each defined once with its source.

Two kinds of number live here:

* **From the guide's evidence.** Each names the study or page of the College of Policing's
  serious violence hot spots guide it rests on: a study id of ``hotspots/data/tactics.json``
  (``Basford2021``, ``Koper1995`` ...; authors, title and DOI or stable link are listed there), a
  guide page (``G3`` ...) or a public address. Plan defaults are "suggested by the guide's
  evidence": the guide itself states no plan defaults.
* **Heuristics of this product.** Choices the evidence does not make for us; each says why.

Every other module, the command line and the app read these names rather than repeating the
numbers. The knowledge base (``hotspots/data/tactics.json``, key ``constants``) carries the
guide-derived plan values with their sources for the briefing; ``tests/test_constants.py`` checks
the two agree.
"""

from __future__ import annotations

__all__ = [
    "CONTROL_SEPARATION_BUFFER_M",
    "CONTROL_SHARE",
    "GPS_GAP_S",
    "GPS_TOLERANCE_M",
    "HOTSPOT_COVERAGE",
    "MAX_GAP_DAYS",
    "MAX_PATROL_AREAS",
    "MAX_VISIT_MINUTES",
    "MICRO_PLACE_M",
    "MICRO_PLACE_RADIUS_M",
    "MIN_AREA_INCIDENTS",
    "MIN_VISIT_MINUTES",
    "NIGHT_WINDOW",
    "OFFICERS_PER_PATROL",
    "OFFICER_HOURS",
    "PATROL_UNIT_M2",
    "PLAN_DAYS",
    "ROUTING_TIME_LIMIT_S",
    "STREET_DETOUR",
    "TIME_ZONE",
    "TRAVEL_MINUTES",
    "VISITS_PER_DAY",
    "VISIT_MINUTES",
    "WALKING_SPEED_KMH",
]

# ------------------------------------------------------------------------------- micro places
#: Side of a micro place, metres: the hot spot size of the UK randomised trials (Southend's
#: 150 m places, Basford2021; Birmingham's 150 m grid cells, Williams2017; Peterborough's and
#: Operation Savvy's 150 m radius polygons, Ariel2016 and OpSavvy). The KDE bandwidth, the Gi*
#: and change-over-time cell and the concentration-curve cell default to it.
MICRO_PLACE_M = 150.0

#: Radius of a micro-place disc, metres: half of :data:`MICRO_PLACE_M`, so a disc is 150 m
#: across like the trials' squares and grid cells. Heuristic of this product: the trials
#: that used a 150 m *radius* (Peterborough, Op Savvy) drew polygons around a known spot, whereas a
#: disc here is both a patrol area and the scale of every significance test, so it is sized to one
#: patrol unit. Patrol-area radius, DBSCAN's default ``eps`` and the micro-place CSR test use it.
MICRO_PLACE_RADIUS_M = MICRO_PLACE_M / 2

#: One patrol unit, square metres (150 m × 150 m = 2.25 ha): the guide's targeting step ranks
#: equal-sized units (guide page G3) and the UK trials' unit was ~150 m. The ranking floors every
#: hot spot's area at it.
PATROL_UNIT_M2 = MICRO_PLACE_M * MICRO_PLACE_M

#: Share of the study area the KDE hot spots cover by default (0.02 = 2 %): half of crime falls on
#: 2.1-6.0 % of street segments (the law of crime concentration: Weisburd (2015), Criminology
#: 53(2)) and 2.6 % of Southend's area held 41 % of its harm (Basford2021); 2 % sits at the low
#: end so hot spots stay patrollable.
HOTSPOT_COVERAGE = 0.02

#: The night-time-economy window, hours ``(start, end)`` with the end exclusive and wrapping past
#: midnight: 18:00-06:00. Heuristic of this product, not the guide's: twelve evening and night
#: hours that hold the pubs', clubs' and late takeaways' trade and the journeys home, used to
#: call a place's peak "night-time". The same span is said to be a South Wales Police definition
#: for Cardiff's city centre, but the project could read that only in a third-party copy, so it
#: is not cited as a source (``nte_start_hour`` in ``hotspots/data/tactics.json`` says the same).
NIGHT_WINDOW = (18, 6)

# -------------------------------------------------------------------------------- patrol plans
#: Minutes on foot inside a hot spot per visit: 15, suggested by the guide's evidence (stops of
#: 11-15 minutes deterred longest, Koper1995; Southend walked 15-20 minutes, Basford2021;
#: Bedfordshire one 15-minute patrol, Bland2021).
VISIT_MINUTES = 15

#: Shortest visit that counts as a dose, minutes: visits under 10 minutes are never counted or
#: planned (under about 10 minutes a stop deterred no more than a drive-through, Koper1995).
MIN_VISIT_MINUTES = 10

#: Longest visit a plan accepts, minutes. Heuristic of this product: six times the longest visit
#: the trials walked (20 minutes, Basford2021); a longer stay is static guarding rather than a
#: patrol visit, and the limit catches hours typed as minutes.
MAX_VISIT_MINUTES = 120

#: Most days between two visits to a treated area: no treated place left more than 3-4 days
#: without a visit (residual deterrence ended after four patrol-free days, Barnes2020;
#: Bedfordshire's trial was designed on one patrol every 3 to 4 days, Bland2021); the lower
#: bound is kept.
MAX_GAP_DAYS = 3

#: Visits per treated area per patrol day: at least one, at a random time (Basford2021;
#: Sacramento's randomised visits, Telep2014).
VISITS_PER_DAY = 1

#: Officers in one patrol: two on foot, as in Southend and Bedfordshire (Basford2021, Bland2021).
OFFICERS_PER_PATROL = 2

#: Minutes per visit allowed for reaching the area, counted against capacity but never as dose.
#: Heuristic of this product: in the UK trials vehicles only carried officers to the spot
#: (Basford2021), and time in transit is not patrol (ArielPartridge2017); ten minutes is a short
#: urban drive or walk between neighbouring micro places.
TRAVEL_MINUTES = 10.0

#: Officer-hours per day available for hot spot patrol, all officers together. Heuristic of this
#: product: one officer's shift, a starting figure the user is expected to replace with the
#: force's own capacity (Cleveland's Hotspot Response Fund, for comparison, set a target of 13,000
#: patrol hours: https://www.cleveland.pcc.police.uk/working-for-you/decisions/decision-notices/
#: decision-2025-26-001-hotspot-action-patrols/).
OFFICER_HOURS = 8.0

#: Length of a plan, days. Heuristic of this product: four whole weeks, so every weekday comes up
#: equally often; this product's campaign review point is 90 days (``campaign_review_days`` in
#: ``hotspots/data/tactics.json``), about three such plans.
PLAN_DAYS = 28

#: Share of the planned areas held back each day as same-day controls. Heuristic of this product:
#: off by default, because a crossover test (a third to a half of the places treated a day, the
#: rest controls: Basford2021, Bland2021, ThamesValleyRCT) is an evaluation design a force opts
#: into, not a default for patrol.
CONTROL_SHARE = 0.0

#: Fewest incidents a patrol area must hold. Heuristic of this product: the trials' eligibility
#: counts (36 or more over one to two years within 150 m: OpSavvy, Ariel2016) are for whole
#: programmes over years of data; on the few months a user may load, three incidents is the least
#: that is a recurring place rather than a coincidence of two.
MIN_AREA_INCIDENTS = 3

#: Most patrol areas made by default when they are placed by the forecast (anywhere in the study
#: area, not only inside hot spots). Heuristic of this product: the largest number of discs the
#: evaluation reads (``hotspots.evaluate.DISC_COUNTS``), about ten times the visits one day's
#: default capacity funds (:data:`OFFICER_HOURS`); a force-wide list of thousands of discs of three
#: incidents is not a patrol list. Give ``max_areas`` for more or fewer.
MAX_PATROL_AREAS = 100

# ------------------------------------------------------------------------------- team tasking
#: Walking speed between patrol areas, km/h: 4.8, the pace behind the 10-minute, 800 m walk of
#: the Department for Transport's Manual for Streets (2007), section 4.4 ("walkable
#: neighbourhoods": facilities within 10 minutes, up to about 800 m, on foot). Using a planning
#: figure for residents' walks as officers' pace between areas is this product's heuristic; a
#: force with its own figure (or a vehicle) gives another speed or a travel-time table.
WALKING_SPEED_KMH = 4.8

#: Street distance over straight-line distance between two patrol areas. Heuristic of this
#: product: 4/pi (about 1.27), the mean ratio of the grid (Manhattan) distance to the straight
#: line over all directions, for streets laid out as a grid; winding streets are longer, so a
#: force with a street network gives its own travel-time table.
STREET_DETOUR = 4.0 / 3.141592653589793

#: Buffer, metres, added to an area's diameter to give the least distance between the centres
#: of patrol areas that are randomised apart. Areas closer than that are patrolled or held back
#: together (a block), so a control area does not sit within 100 m of a patrolled one: the UK
#: trials counted displacement and diffusion in 100 m buffers around their hot spots
#: (Basford2021, Bland2021), so within 100 m a control would take the patrol's effect.
CONTROL_SEPARATION_BUFFER_M = 100.0

#: Safety limit, seconds, on the route search of one plan day. Heuristic of this product: the
#: search stops at a local optimum (greedy descent), which makes it reproducible; the limit only
#: stops a search that would otherwise run for long, and a plan says when it was reached (its
#: routes then depend on the machine's speed).
ROUTING_TIME_LIMIT_S = 30.0

# ------------------------------------------------------------------------------------ tracking
#: Longest time, seconds, between two GPS fixes in (or within :data:`GPS_TOLERANCE_M` of) a patrol
#: area that still counts as one continuous visit, whether the time between had no fixes (a GPS
#: gap) or fixes outside (a brief excursion). Heuristic of this product: twice the one-minute ping
#: of the Peterborough PCSO trackers (Ariel2016), so one lost fix never splits a visit; raise it
#: for slower pings (Merseyside's radios pinged every 5 minutes, Gibson2017) and report the ping
#: interval with every dosage figure, as the GPS studies ask (the effect of the GPS refresh rate
#: on measured patrol in micro places:
#: https://crimesciencejournal.biomedcentral.com/articles/10.1186/s40163-021-00140-1).
GPS_GAP_S = 120

#: Distance, metres, outside a patrol area within which a fix still counts as presence (GPS
#: jitter). Heuristic of this product: handheld and radio GPS in built-up streets is commonly off
#: by 5-15 m; 15 m is a tenth of a micro place (:data:`MICRO_PLACE_M`), so jitter at the edge of a
#: disc does not break a visit, while a patrol walking past outside is not counted. A run of fixes
#: that never falls strictly inside the area is not a visit.
GPS_TOLERANCE_M = 15.0

#: Time zone in which patrol plans' clock times and patrol logs' times without a UTC offset are
#: read. Heuristic of this product: the guide and its trials are for forces in England and Wales.
TIME_ZONE = "Europe/London"
