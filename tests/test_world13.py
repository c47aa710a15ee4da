"""Real exports from other cities and countries, read as their columns and values are written.

Each sample below has the exact column names and value formats of a real open-data export
(LAPD "Crime Data from 2020 to Present", San Francisco's incident reports, Philadelphia's
incidents_part1_part2, Toronto's Major Crime Indicators, Vancouver's VPD crime data, a German
and a French city's semicolon files with decimal commas, New Zealand's NZTM2000 and Australia's
GDA2020 / MGA grids), with realistic coordinates for the real city. Each test fails without the
fix it names: columns found by their words, dates and times read as written, placeholder times
dropped, dates put together from year / month / day columns, grids other than British National
Grid refused with the fix, and maps continuous across the antimeridian.
"""

from __future__ import annotations

import json
import re
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from hotspots import cli, crs, mapping
from hotspots._errors import HotspotsWarning, InputError
from hotspots.ingest import read_incidents
from hotspots.workflows import detect_hotspots, hotspot_bytes


def _rng(seed):
    return np.random.default_rng(seed)


def _pts(rng, lon, lat, n, spread=0.02, hot=0.3):
    """n points round (lon, lat): a hot spot holding `hot` of them, the rest spread."""
    k = int(n * hot)
    lo = np.r_[rng.normal(lon, 0.0008, k), rng.normal(lon, spread, n - k)]
    la = np.r_[rng.normal(lat, 0.0006, k), rng.normal(lat, spread * 0.7, n - k)]
    return lo, la


def _csv(header, rows, sep=","):
    def q(v):
        v = str(v)
        return '"' + v.replace('"', '""') + '"' if (sep in v or '"' in v) else v

    return (
        sep.join(header) + "\n" + "\n".join(sep.join(q(v) for v in r) for r in rows) + "\n"
    ).encode()


def _when(rng, n, start="2023-01-01", days=365):
    t0 = np.datetime64(start, "m")
    return t0 + rng.integers(0, days * 1440, n).astype("timedelta64[m]")


def _proj(epsg, lon, lat):
    return pyproj.Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)


def _ampm(t):
    t = t.astype(object)
    return [x.strftime("%m/%d/%Y %I:%M:%S %p") for x in t]


VIOL_US = [
    "FELONY ASSAULT",
    "ROBBERY",
    "PETIT LARCENY",
    "HARRASSMENT 2",
    "BURGLARY",
    "ASSAULT 3 & RELATED OFFENSES",
]


def nypd(n=600, seed=1):
    rng = _rng(seed)
    lon, lat = _pts(rng, -73.9442, 40.8116, n)  # Harlem, 125th St
    x, y = _proj(2263, lon, lat)  # NAD83 / New York Long Island (ftUS)
    t = _when(rng, n).astype(object)
    head = [
        "CMPLNT_NUM",
        "CMPLNT_FR_DT",
        "CMPLNT_FR_TM",
        "CMPLNT_TO_DT",
        "CMPLNT_TO_TM",
        "ADDR_PCT_CD",
        "RPT_DT",
        "KY_CD",
        "OFNS_DESC",
        "PD_CD",
        "PD_DESC",
        "CRM_ATPT_CPTD_CD",
        "LAW_CAT_CD",
        "BORO_NM",
        "LOC_OF_OCCUR_DESC",
        "PREM_TYP_DESC",
        "JURIS_DESC",
        "JURISDICTION_CODE",
        "PARKS_NM",
        "HADEVELOPT",
        "HOUSING_PSA",
        "X_COORD_CD",
        "Y_COORD_CD",
        "SUSP_AGE_GROUP",
        "SUSP_RACE",
        "SUSP_SEX",
        "TRANSIT_DISTRICT",
        "Latitude",
        "Longitude",
        "Lat_Lon",
        "PATROL_BORO",
        "STATION_NAME",
        "VIC_AGE_GROUP",
        "VIC_RACE",
        "VIC_SEX",
    ]
    rows = []
    for i in range(n):
        ti = t[i]
        la, lo = f"{lat[i]:.9f}", f"{lon[i]:.9f}"
        xi, yi = f"{x[i]:.0f}", f"{y[i]:.0f}"
        latlon = f"({lat[i]:.9f}, {lon[i]:.9f})"
        if i % 97 == 5:  # no location (NYPD leaves the geography blank for some offences)
            la = lo = xi = yi = latlon = ""
        rows.append(
            [
                f"{238000000 + i}",
                ti.strftime("%m/%d/%Y"),
                ti.strftime("%H:%M:%S"),
                "",
                "",
                "28",
                ti.strftime("%m/%d/%Y"),
                "106",
                VIOL_US[i % 6],
                "109",
                "ASSAULT 2,1,UNCLASSIFIED",
                "COMPLETED",
                "FELONY",
                "MANHATTAN",
                "FRONT OF",
                "STREET",
                "N.Y. POLICE DEPT",
                "0",
                "",
                "",
                "",
                xi,
                yi,
                "25-44",
                "BLACK",
                "M",
                "",
                la,
                lo,
                latlon,
                "PATROL BORO MAN NORTH",
                "",
                "25-44",
                "BLACK",
                "F",
            ]
        )
    return _csv(head, rows)


def lapd(n=600, seed=2, hhmm_pad=False):
    rng = _rng(seed)
    lon, lat = _pts(rng, -118.2468, 34.0407, n)  # downtown LA
    t = _when(rng, n).astype(object)
    head = [
        "DR_NO",
        "Date Rptd",
        "DATE OCC",
        "TIME OCC",
        "AREA",
        "AREA NAME",
        "Rpt Dist No",
        "Part 1-2",
        "Crm Cd",
        "Crm Cd Desc",
        "Mocodes",
        "Vict Age",
        "Vict Sex",
        "Vict Descent",
        "Premis Cd",
        "Premis Desc",
        "Weapon Used Cd",
        "Weapon Desc",
        "Status",
        "Status Desc",
        "Crm Cd 1",
        "Crm Cd 2",
        "Crm Cd 3",
        "Crm Cd 4",
        "LOCATION",
        "Cross Street",
        "LAT",
        "LON",
    ]
    descs = [
        "BATTERY - SIMPLE ASSAULT",
        "ROBBERY",
        "ASSAULT WITH DEADLY WEAPON, AGGRAVATED ASSAULT",
        "VEHICLE - STOLEN",
        "THEFT PLAIN - PETTY ($950 & UNDER)",
        "BURGLARY FROM VEHICLE",
    ]
    rows = []
    for i in range(n):
        ti = t[i]
        hhmm = ti.hour * 100 + ti.minute
        tocc = f"{hhmm:04d}" if hhmm_pad else str(hhmm)
        d = ti.strftime("%m/%d/%Y") + " 12:00:00 AM"
        la, lo = f"{lat[i]:.4f}", f"{lon[i]:.4f}"
        if i % 53 == 7:
            la, lo = "0", "0"  # LAPD writes 0, 0 for a location it withholds
        rows.append(
            [
                f"2{i:08d}",
                d,
                d,
                tocc,
                "1",
                "Central",
                "0162",
                "1",
                "624",
                descs[i % 6],
                "0416 0446",
                "34",
                "M",
                "H",
                "102",
                "SIDEWALK",
                "400",
                "STRONG-ARM (HANDS, FIST, FEET OR BODILY FORCE)",
                "IC",
                "Invest Cont",
                "624",
                "",
                "",
                "",
                "700 S  BROADWAY",
                "",
                la,
                lo,
            ]
        )
    return _csv(head, rows)


def chicago_portal(n=600, seed=3):
    rng = _rng(seed)
    lon, lat = _pts(rng, -87.6298, 41.8781, n)
    x, y = _proj(3435, lon, lat)  # NAD83 / Illinois East (ftUS)
    t = _when(rng, n).astype(object)
    head = [
        "ID",
        "Case Number",
        "Date",
        "Block",
        "IUCR",
        "Primary Type",
        "Description",
        "Location Description",
        "Arrest",
        "Domestic",
        "Beat",
        "District",
        "Ward",
        "Community Area",
        "FBI Code",
        "X Coordinate",
        "Y Coordinate",
        "Year",
        "Updated On",
        "Latitude",
        "Longitude",
        "Location",
    ]
    types = ["BATTERY", "ROBBERY", "ASSAULT", "THEFT", "CRIMINAL DAMAGE", "NARCOTICS"]
    rows = []
    for i in range(n):
        ti = t[i]
        xi, yi, la, lo = f"{x[i]:.0f}", f"{y[i]:.0f}", f"{lat[i]:.9f}", f"{lon[i]:.9f}"
        loc = f"({lat[i]:.9f}, {lon[i]:.9f})"
        if i % 89 == 3:
            xi = yi = la = lo = loc = ""
        rows.append(
            [
                str(12000000 + i),
                f"JG{100000 + i}",
                ti.strftime("%m/%d/%Y %I:%M:%S %p"),
                "001XX N STATE ST",
                "0486",
                types[i % 6],
                "DOMESTIC BATTERY SIMPLE",
                "STREET",
                "false",
                "true",
                "0111",
                "001",
                "42",
                "32",
                "08B",
                xi,
                yi,
                str(ti.year),
                "01/03/2024 03:40:43 PM",
                la,
                lo,
                loc,
            ]
        )
    return _csv(head, rows)


def sf(n=600, seed=4):
    rng = _rng(seed)
    lon, lat = _pts(rng, -122.4128, 37.7840, n)  # Tenderloin
    t = _when(rng, n).astype(object)
    head = [
        "Incident Datetime",
        "Incident Date",
        "Incident Time",
        "Incident Year",
        "Incident Day of Week",
        "Report Datetime",
        "Row ID",
        "Incident ID",
        "Incident Number",
        "CAD Number",
        "Report Type Code",
        "Report Type Description",
        "Filed Online",
        "Incident Code",
        "Incident Category",
        "Incident Subcategory",
        "Incident Description",
        "Resolution",
        "Intersection",
        "CNN",
        "Police District",
        "Analysis Neighborhood",
        "Supervisor District",
        "Supervisor District 2012",
        "Latitude",
        "Longitude",
        "Point",
        "Neighborhoods",
        "ESNCAG - Boundary File",
        "Central Market/Tenderloin Boundary Polygon - Updated",
        "Civic Center Harm Reduction Project Boundary",
        "HSOC Zones as of 2018-06-05",
        "Invest In Neighborhoods (IIN) Areas",
        "Current Supervisor Districts",
        "Current Police Districts",
    ]
    cats = ["Assault", "Robbery", "Larceny Theft", "Malicious Mischief", "Drug Offense", "Burglary"]
    rows = []
    for i in range(n):
        ti = t[i]
        la, lo = f"{lat[i]:.13f}", f"{lon[i]:.12f}"
        pt = f"POINT ({lon[i]:.12f} {lat[i]:.13f})"
        if i % 41 == 2:
            la = lo = pt = ""
        rows.append(
            [
                ti.strftime("%Y/%m/%d %I:%M:%S %p"),
                ti.strftime("%Y/%m/%d"),
                ti.strftime("%H:%M"),
                str(ti.year),
                ti.strftime("%A"),
                ti.strftime("%Y/%m/%d %I:%M:%S %p"),
                f"{1200000 + i}06374",
                str(1200000 + i),
                f"2300{i:05d}",
                f"23{i:07d}",
                "II",
                "Initial",
                "",
                "04134",
                cats[i % 6],
                "Simple Assault",
                "Battery",
                "Open or Active",
                "JONES ST \\ EDDY ST",
                "24917000",
                "Tenderloin",
                "Tenderloin",
                "5",
                "6",
                la,
                lo,
                pt,
                "20",
                "1",
                "1",
                "1",
                "1",
                "1",
                "5",
                "5",
            ]
        )
    return _csv(head, rows)


def philly(n=600, seed=5):
    rng = _rng(seed)
    lon, lat = _pts(rng, -75.1652, 39.9526, n)
    t = _when(rng, n).astype(object)
    head = [
        "the_geom",
        "cartodb_id",
        "the_geom_webmercator",
        "objectid",
        "dc_dist",
        "psa",
        "dispatch_date_time",
        "dispatch_date",
        "dispatch_time",
        "hour",
        "dc_key",
        "location_block",
        "ucr_general",
        "text_general_code",
        "point_x",
        "point_y",
        "lat",
        "lng",
    ]
    codes = [
        "Aggravated Assault No Firearm",
        "Robbery Firearm",
        "Thefts",
        "Other Assaults",
        "Vandalism/Criminal Mischief",
        "Fraud",
    ]
    rows = []
    for i in range(n):
        ti = t[i]
        px, py, la, lo = f"{lon[i]:.8f}", f"{lat[i]:.8f}", f"{lat[i]:.8f}", f"{lon[i]:.8f}"
        if i % 67 == 1:
            px = py = la = lo = ""
        rows.append(
            [
                "0101000020E6100000",
                str(i + 1),
                "0101000020110F0000",
                str(5000 + i),
                "06",
                "1",
                ti.strftime("%Y-%m-%d %H:%M:%S") + "+00",
                ti.strftime("%Y-%m-%d"),
                ti.strftime("%H:%M:%S"),
                str(ti.hour),
                f"2023060{i:05d}",
                "1500 BLOCK MARKET ST",
                "400",
                codes[i % 6],
                px,
                py,
                la,
                lo,
            ]
        )
    return _csv(head, rows)


def toronto(n=600, seed=6):
    rng = _rng(seed)
    lon, lat = _pts(rng, -79.3832, 43.6532, n)
    x, y = _proj(3857, lon, lat)
    t = _when(rng, n).astype(object)
    months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    head = [
        "X",
        "Y",
        "OBJECTID",
        "EVENT_UNIQUE_ID",
        "REPORT_DATE",
        "OCC_DATE",
        "REPORT_YEAR",
        "REPORT_MONTH",
        "REPORT_DAY",
        "REPORT_DOY",
        "REPORT_DOW",
        "REPORT_HOUR",
        "OCC_YEAR",
        "OCC_MONTH",
        "OCC_DAY",
        "OCC_DOY",
        "OCC_DOW",
        "OCC_HOUR",
        "DIVISION",
        "LOCATION_TYPE",
        "PREMISES_TYPE",
        "UCR_CODE",
        "UCR_EXT",
        "OFFENCE",
        "MCI_CATEGORY",
        "HOOD_158",
        "NEIGHBOURHOOD_158",
        "HOOD_140",
        "NEIGHBOURHOOD_140",
        "LONG_WGS84",
        "LAT_WGS84",
    ]
    mci = [
        ("Assault", "Assault"),
        ("Robbery - Mugging", "Robbery"),
        ("B&E", "Break and Enter"),
        ("Theft Of Motor Vehicle", "Auto Theft"),
        ("Assault With Weapon", "Assault"),
        ("Theft Over", "Theft Over"),
    ]
    rows = []
    for i in range(n):
        ti = t[i]
        # the date at midnight Toronto time, written in UTC: 05:00 in winter, 04:00 in summer
        off = 4 if 3 < ti.month < 11 else 5
        occ = f"{ti.year}-{ti.month:02d}-{ti.day:02d} {off:02d}:00:00"
        xi, yi, lo, la = f"{x[i]:.4f}", f"{y[i]:.4f}", f"{lon[i]:.6f}", f"{lat[i]:.6f}"
        if i % 71 == 4:  # Toronto places withheld locations at 0, 0
            xi, yi, lo, la = "0", "0", "0", "0"
        o, m = mci[i % 6]
        rows.append(
            [
                xi,
                yi,
                str(i + 1),
                f"GO-2023{i:07d}",
                occ,
                occ,
                str(ti.year),
                months[ti.month - 1],
                str(ti.day),
                "1",
                ti.strftime("%A    "),
                str(ti.hour),
                str(ti.year),
                months[ti.month - 1],
                str(ti.day),
                "1",
                ti.strftime("%A    "),
                str(ti.hour),
                "D52",
                "Streets, Roads, Highways (Bicycle Path, Private Road)",
                "Outside",
                "1430",
                "100",
                o,
                m,
                "170",
                "Yonge-Bay Corridor (170)",
                "76",
                "Bay Street Corridor (76)",
                lo,
                la,
            ]
        )
    return _csv(head, rows)


def vancouver(n=600, seed=7):
    rng = _rng(seed)
    lon, lat = _pts(rng, -123.1000, 49.2800, n)
    x, y = _proj(32610, lon, lat)
    t = _when(rng, n).astype(object)
    head = [
        "TYPE",
        "YEAR",
        "MONTH",
        "DAY",
        "HOUR",
        "MINUTE",
        "HUNDRED_BLOCK",
        "NEIGHBOURHOOD",
        "X",
        "Y",
    ]
    types = [
        "Offence Against a Person",
        "Theft from Vehicle",
        "Other Theft",
        "Mischief",
        "Break and Enter Commercial",
        "Theft of Bicycle",
    ]
    rows = []
    for i in range(n):
        ti = t[i]
        if i % 6 == 0:  # VPD withholds the place and time of offences against a person
            rows.append(
                [
                    types[0],
                    str(ti.year),
                    str(ti.month),
                    str(ti.day),
                    "",
                    "",
                    "OFFSET TO PROTECT PRIVACY",
                    "",
                    "0",
                    "0",
                ]
            )
            continue
        rows.append(
            [
                types[i % 6],
                str(ti.year),
                str(ti.month),
                str(ti.day),
                str(ti.hour),
                str(ti.minute),
                "1XX W HASTINGS ST",
                "Central Business District",
                f"{x[i]:.2f}",
                f"{y[i]:.2f}",
            ]
        )
    return _csv(head, rows)


def montreal(n=600, seed=8):
    rng = _rng(seed)
    lon, lat = _pts(rng, -73.5673, 45.5017, n)
    x, y = _proj(32188, lon, lat)  # NAD83 / MTM zone 8
    t = _when(rng, n).astype(object)
    head = ["CATEGORIE", "DATE", "QUART", "PDQ", "X", "Y", "LONGITUDE", "LATITUDE"]
    cats = [
        "Vols qualifiés",
        "Méfait",
        "Vol dans / sur véhicule à moteur",
        "Introduction",
        "Vol de véhicule à moteur",
        "Infractions entrainant la mort",
    ]
    rows = []
    for i in range(n):
        ti = t[i]
        q = "jour" if 8 <= ti.hour < 16 else ("soir" if ti.hour >= 16 else "nuit")
        xi, yi, lo, la = f"{x[i]:.6f}", f"{y[i]:.6f}", f"{lon[i]:.9f}", f"{lat[i]:.9f}"
        if i % 31 == 2:  # SPVM: no location -> X, Y 0 and LONGITUDE/LATITUDE at 1
            xi, yi, lo, la = "0.0", "0.0", "1.0", "1.0"
        rows.append([cats[i % 6], ti.strftime("%Y-%m-%d"), q, "20", xi, yi, lo, la])
    return _csv(head, rows)


def europe_semicolon(n=600, seed=9):
    """A German city export: semicolons, decimal commas, d.m.Y dates, German headers."""
    rng = _rng(seed)
    lon, lat = _pts(rng, 13.4132, 52.5219, n)  # Berlin Alexanderplatz
    t = _when(rng, n).astype(object)
    head = ["Fallnummer", "Tatzeit", "Delikt", "Breitengrad", "Längengrad", "Straße"]
    d = [
        "Körperverletzung",
        "Raub",
        "Diebstahl",
        "Sachbeschädigung",
        "Gefährliche Körperverletzung",
        "Taschendiebstahl",
    ]
    rows = [
        [
            f"{i + 1}",
            ti.strftime("%d.%m.%Y %H:%M"),
            d[i % 6],
            f"{lat[i]:.6f}".replace(".", ","),
            f"{lon[i]:.6f}".replace(".", ","),
            "Alexanderplatz",
        ]
        for i, ti in enumerate(t)
    ]
    return _csv(head, rows, sep=";")


def europe_semicolon_fr(n=600, seed=10):
    """A French city: semicolons, decimal commas, d/m/Y dates, French headers with accents."""
    rng = _rng(seed)
    lon, lat = _pts(rng, 4.8357, 45.7640, n)  # Lyon
    t = _when(rng, n).astype(object)
    head = ["Numéro", "Date des faits", "Heure", "Catégorie", "Latitude", "Longitude", "Adresse"]
    d = [
        "Violences physiques",
        "Vols avec violence",
        "Cambriolages",
        "Dégradations",
        "Vols sans violence",
        "Stupéfiants",
    ]
    rows = [
        [
            f"{i + 1}",
            ti.strftime("%d/%m/%Y"),
            ti.strftime("%Hh%M"),
            d[i % 6],
            f"{lat[i]:.6f}".replace(".", ","),
            f"{lon[i]:.6f}".replace(".", ","),
            "Place Bellecour",
        ]
        for i, ti in enumerate(t)
    ]
    return _csv(head, rows, sep=";")


def new_zealand(n=600, seed=11):
    rng = _rng(seed)
    lon, lat = _pts(rng, 174.7633, -36.8485, n)  # Auckland
    e, no = _proj(2193, lon, lat)  # NZGD2000 / New Zealand Transverse Mercator 2000
    t = _when(rng, n).astype(object)
    head = [
        "Occurrence ID",
        "Occurrence Date",
        "Occurrence Time",
        "ANZSOC Division",
        "Easting",
        "Northing",
        "Territorial Authority",
    ]
    div = [
        "Acts intended to cause injury",
        "Robbery, extortion and related offences",
        "Theft and related offences",
        "Unlawful entry with intent/burglary, break and enter",
        "Property damage and environmental pollution",
        "Sexual assault and related offences",
    ]
    rows = [
        [
            f"{i + 1}",
            ti.strftime("%d/%m/%Y"),
            ti.strftime("%H:%M"),
            div[i % 6],
            f"{e[i]:.0f}",
            f"{no[i]:.0f}",
            "Auckland.",
        ]
        for i, ti in enumerate(t)
    ]
    return _csv(head, rows)


def australia(n=600, seed=12):
    rng = _rng(seed)
    lon, lat = _pts(rng, 153.0251, -27.4698, n)  # Brisbane
    e, no = _proj(7856, lon, lat)  # GDA2020 / MGA zone 56
    t = _when(rng, n).astype(object)
    head = [
        "Offence Number",
        "Reported Date",
        "Offence Type",
        "Suburb",
        "GDA2020 MGA Easting",
        "GDA2020 MGA Northing",
        "Latitude",
        "Longitude",
    ]
    ty = [
        "Assault (Common)",
        "Robbery (Armed)",
        "Other Theft (excl. Unlawful Entry)",
        "Unlawful Entry",
        "Other Property Damage",
        "Drug Offences",
    ]
    rows = [
        [
            f"QP23{i:07d}",
            ti.strftime("%d/%m/%Y %H:%M"),
            ty[i % 6],
            "Brisbane City",
            f"{e[i]:.2f}",
            f"{no[i]:.2f}",
            f"{lat[i]:.6f}",
            f"{lon[i]:.6f}",
        ]
        for i, ti in enumerate(t)
    ]
    return _csv(head, rows)


def australia_mga_only(n=600, seed=13):
    rng = _rng(seed)
    lon, lat = _pts(rng, 151.2093, -33.8688, n)  # Sydney
    e, no = _proj(7856, lon, lat)
    t = _when(rng, n).astype(object)
    head = ["Incident ID", "Incident Date", "Offence Category", "Easting", "Northing"]
    ty = [
        "Assault - non-domestic violence related",
        "Robbery",
        "Steal from person",
        "Malicious damage to property",
        "Break and enter dwelling",
        "Fraud",
    ]
    rows = [
        [str(i + 1), ti.strftime("%d/%m/%Y"), ty[i % 6], f"{e[i]:.1f}", f"{no[i]:.1f}"]
        for i, ti in enumerate(t)
    ]
    return _csv(head, rows)


def _police_uk(rng, lon, lat, force, month, lsoa=True, n=None):
    n = len(lon)
    types = [
        "Violence and sexual offences",
        "Anti-social behaviour",
        "Theft from the person",
        "Robbery",
        "Criminal damage and arson",
        "Public order",
    ]
    head = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location"]
    head += (["LSOA code", "LSOA name"] if lsoa else []) + [
        "Crime type",
        "Last outcome category",
        "Context",
    ]
    rows = []
    for i in range(n):
        cid = "" if types[i % 6] == "Anti-social behaviour" else f"{rng.integers(16**15):064x}"[:64]
        lo, la = f"{lon[i]:.6f}", f"{lat[i]:.6f}"
        r = [
            cid,
            month,
            force,
            force,
            lo,
            la,
            "On or near Platform" if "Transport" in force else "On or near Royal Avenue",
        ]
        r += (["", ""] if lsoa else []) + [
            types[i % 6],
            "Investigation complete; no suspect identified" if cid else "",
            "",
        ]
        rows.append(r)
    return _csv(head, rows)


def psni(n=600, seed=14, month="2024-01"):
    rng = _rng(seed)
    k = n // 2
    lo1, la1 = _pts(rng, -5.9301, 54.5973, k)  # Belfast (UTM 30)
    lo2, la2 = _pts(rng, -7.3086, 54.9966, n - k)  # Derry/Londonderry (UTM 29)
    return _police_uk(
        rng,
        np.r_[lo1, lo2],
        np.r_[la1, la2],
        "Police Service of Northern Ireland",
        month,
        lsoa=False,
    )


def btp(n=900, seed=15, month="2024-01"):
    """British Transport Police: points at stations along railways nationwide (Scotland too)."""
    rng = _rng(seed)
    stations = [
        (-0.1236, 51.5308),
        (-0.1635, 51.5322),
        (-2.2309, 53.4774),
        (-1.8990, 52.4778),
        (-3.1791, 51.4751),
        (-4.2583, 55.8608),
        (-3.1883, 55.9521),
        (-2.9779, 53.4075),
        (-1.5473, 53.7955),
        (-2.5813, 51.4491),
        (-1.6174, 54.9683),
        (-0.0755, 51.5185),
        (-4.1426, 50.3775),
        (-3.0436, 58.4398),
        (1.3061, 52.6271),
    ]
    idx = rng.integers(0, len(stations), n)
    lon = np.array([stations[i][0] for i in idx]) + rng.normal(0, 0.0005, n)
    lat = np.array([stations[i][1] for i in idx]) + rng.normal(0, 0.0004, n)
    return _police_uk(rng, lon, lat, "British Transport Police", month)


def fiji(n=600, seed=16):
    """Taveuni and Vanua Levu straddle 180 degrees: longitudes both +179.9 and -179.9."""
    rng = _rng(seed)
    lon = rng.normal(180.0, 0.01, n)
    lon = np.where(lon > 180, lon - 360, lon)
    lat = rng.normal(-16.80, 0.01, n)
    t = _when(rng, n).astype(object)
    head = ["id", "date", "offence", "latitude", "longitude"]
    rows = [
        [
            str(i + 1),
            ti.strftime("%Y-%m-%d %H:%M"),
            ["Assault", "Robbery", "Theft"][i % 3],
            f"{lat[i]:.6f}",
            f"{lon[i]:.6f}",
        ]
        for i, ti in enumerate(t)
    ]
    return _csv(head, rows)


def us_national(n=3000, seed=17):
    """A whole-country US file (NIBRS-like extract): cities in many UTM zones."""
    rng = _rng(seed)
    cities = [
        (-73.94, 40.67),
        (-118.24, 34.05),
        (-87.63, 41.88),
        (-95.37, 29.76),
        (-112.07, 33.45),
        (-75.17, 39.95),
        (-122.42, 37.77),
        (-80.19, 25.76),
        (-122.33, 47.61),
        (-104.99, 39.74),
    ]
    idx = rng.integers(0, len(cities), n)
    lon = np.array([cities[i][0] for i in idx]) + rng.normal(0, 0.02, n)
    lat = np.array([cities[i][1] for i in idx]) + rng.normal(0, 0.015, n)
    t = _when(rng, n).astype(object)
    head = ["incident_id", "incident_date", "offense_name", "latitude", "longitude"]
    rows = [
        [
            str(i + 1),
            ti.strftime("%Y-%m-%d"),
            ["Aggravated Assault", "Robbery", "Simple Assault"][i % 3],
            f"{lat[i]:.5f}",
            f"{lon[i]:.5f}",
        ]
        for i, ti in enumerate(t)
    ]
    return _csv(head, rows)


def seattle(n=600, seed=18):
    rng = _rng(seed)
    lon, lat = _pts(rng, -122.3355, 47.6080, n)
    t = _when(rng, n).astype(object)
    head = [
        "Report Number",
        "Offense ID",
        "Offense Start DateTime",
        "Offense End DateTime",
        "Report DateTime",
        "Group A B",
        "Crime Against Category",
        "Offense Parent Group",
        "Offense",
        "Offense Code",
        "Precinct",
        "Sector",
        "Beat",
        "MCPP",
        "100 Block Address",
        "Longitude",
        "Latitude",
    ]
    off = [
        ("ASSAULT OFFENSES", "Aggravated Assault", "PERSON"),
        ("ROBBERY", "Robbery", "PROPERTY"),
        ("LARCENY-THEFT", "Theft From Motor Vehicle", "PROPERTY"),
    ]
    rows = []
    for i in range(n):
        ti = t[i]
        g, o, c = off[i % 3]
        lo, la = f"{lon[i]:.9f}", f"{lat[i]:.9f}"
        if i % 50 == 3:
            lo, la = "0E-9", "0E-9"  # SPD writes 0 for a location it withholds
        rows.append(
            [
                f"2023-{900000 + i}",
                str(40000000000 + i),
                ti.strftime("%m/%d/%Y %I:%M:%S %p"),
                "",
                ti.strftime("%m/%d/%Y %I:%M:%S %p"),
                "A",
                c,
                g,
                o,
                "13A",
                "W",
                "M",
                "M2",
                "DOWNTOWN COMMERCIAL",
                "3RD AVE / PIKE ST",
                lo,
                la,
            ]
        )
    return _csv(head, rows)


def toronto_old(n=600, seed=19):
    rng = _rng(seed)
    lon, lat = _pts(rng, -79.3832, 43.6532, n)
    t = _when(rng, n).astype(object)
    months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    head = [
        "X",
        "Y",
        "Index_",
        "event_unique_id",
        "occurrencedate",
        "reporteddate",
        "premisetype",
        "ucr_code",
        "ucr_ext",
        "offence",
        "reportedyear",
        "reportedmonth",
        "reportedday",
        "reporteddayofyear",
        "reporteddayofweek",
        "reportedhour",
        "occurrenceyear",
        "occurrencemonth",
        "occurrenceday",
        "occurrencedayofyear",
        "occurrencedayofweek",
        "occurrencehour",
        "MCI",
        "Division",
        "Hood_ID",
        "Neighbourhood",
        "Long",
        "Lat",
        "ObjectId",
    ]
    rows = []
    for i in range(n):
        ti = t[i]
        off = 4 if 3 < ti.month < 11 else 5
        occ = f"{ti.year}-{ti.month:02d}-{ti.day:02d}T{off:02d}:00:00.000Z"
        rows.append(
            [
                f"{-8837000 + i}",
                f"{5410000 + i}",
                str(i),
                f"GO-2023{i:07d}",
                occ,
                occ,
                "Outside",
                "1430",
                "100",
                "Assault",
                str(ti.year),
                months[ti.month - 1],
                str(ti.day),
                "1",
                "Monday",
                str(ti.hour),
                str(ti.year),
                months[ti.month - 1],
                str(ti.day),
                "1",
                "Monday",
                str(ti.hour),
                "Assault",
                "D52",
                "76",
                "Bay Street Corridor (76)",
                f"{lon[i]:.6f}",
                f"{lat[i]:.6f}",
                str(i + 1),
            ]
        )
    return _csv(head, rows)


def berlin_split(n=600, seed=20):
    rng = _rng(seed)
    lon, lat = _pts(rng, 13.4132, 52.5219, n)
    t = _when(rng, n).astype(object)
    head = ["Tatdatum", "Tatzeit", "Delikt", "Breitengrad", "Längengrad"]
    rows = [
        [
            ti.strftime("%d.%m.%Y"),
            ti.strftime("%H:%M"),
            "Raub",
            f"{lat[i]:.6f}".replace(".", ","),
            f"{lon[i]:.6f}".replace(".", ","),
        ]
        for i, ti in enumerate(t)
    ]
    return _csv(head, rows, sep=";")


def chicago_xy_week(n=300, seed=21):
    """Chicago's portal columns without latitude/longitude: X/Y in Illinois East State Plane feet,
    one week of dates (every day <= 12: day/month order ambiguous)."""
    rng = _rng(seed)
    lon, lat = _pts(rng, -87.6298, 41.8781, n)
    x, y = _proj(3435, lon, lat)
    t = np.datetime64("2024-01-01T00:00") + rng.integers(0, 7 * 1440, n).astype("timedelta64[m]")
    t = t.astype(object)
    head = ["ID", "Date", "Primary Type", "X Coordinate", "Y Coordinate"]
    rows = [
        [str(i), ti.strftime("%m/%d/%Y %I:%M:%S %p"), "BATTERY", f"{x[i]:.0f}", f"{y[i]:.0f}"]
        for i, ti in enumerate(t)
    ]
    return _csv(head, rows)


def _read(name, data, **kw):
    kw.setdefault("crime_types", "all")
    return read_incidents((name, data), **kw)


def _hours(inc):
    dt = inc.frame["datetime"][inc.frame["has_time"]]
    return np.bincount(dt.dt.hour.to_numpy(dtype=int), minlength=24)


# --- dates and times as the exports write them ------------------------------------------------


def test_lapd_time_occ_without_leading_zeros_is_hhmm() -> None:
    data = lapd()
    inc = _read("lapd.csv", data)
    rep = inc.report
    assert rep.reason_counts() == {"null island (0, 0)": 12}  # no "unparseable date"
    assert inc.frame["has_time"].all()
    raw = pd.read_csv(pd.io.common.BytesIO(data), dtype=str)
    raw = raw[raw["LAT"] != "0"].reset_index(drop=True)
    want = raw["TIME OCC"].astype(int)
    got = inc.frame.sort_values("source_row")["datetime"].reset_index(drop=True)
    assert ((got.dt.hour * 100 + got.dt.minute).to_numpy() == want.to_numpy()).all()
    assert any("HHMM numbers" in n for n in rep.notes)
    assert any("'DATE OCC' are all 00:00" in n for n in rep.notes)
    # zero-padded times read the same
    padded = _read("lapd.csv", lapd(hhmm_pad=True))
    assert (padded.frame["datetime"].to_numpy() == inc.frame["datetime"].to_numpy()).all()


def test_san_francisco_twelve_hour_clock_year_first() -> None:
    inc = _read("sf.csv", sf())
    assert inc.frame["has_time"].all() and inc.frame["month"].notna().all()
    assert inc.report.files[0].columns["datetime"] == "Incident Datetime"
    assert _hours(inc)[12:].sum() > 0 and _hours(inc)[:12].sum() > 0  # AM and PM both read


def test_philadelphia_dispatch_date_time_found_by_its_words_with_utc_offset() -> None:
    inc = _read("philly.csv", philly())
    cols = inc.report.files[0].columns
    assert cols["datetime"] == "dispatch_date_time" and cols["lon"] == "lng"
    assert inc.frame["has_time"].all()
    assert inc.frame["month"].nunique() == 12


def test_toronto_wgs84_columns_and_placeholder_times() -> None:
    inc = _read("toronto.csv", toronto())
    cols = inc.report.files[0].columns
    assert (cols["lon"], cols["lat"], cols["hour"]) == ("LONG_WGS84", "LAT_WGS84", "OCC_HOUR")
    assert inc.report.reason_counts() == {"null island (0, 0)": 9}
    hours = _hours(inc)
    assert (hours > 0).sum() > 20  # OCC_HOUR, not the 04:00/05:00 of OCC_DATE
    assert any("are all 04:00 or 05:00" in n for n in inc.report.notes)


def test_placeholder_rule_needs_enough_rows_and_one_or_two_times() -> None:
    rows = [f"2023-01-{1 + i % 28:02d} 05:00:00,-79.38,43.65" for i in range(10)]
    few = _read("few.csv", ("date,lon,lat\n" + "\n".join(rows)).encode())
    assert few.frame["has_time"].all()  # too few rows to call 05:00 a placeholder
    three = [
        f"2023-01-{1 + i % 28:02d} {(5, 6, 7)[i % 3]:02d}:00:00,-79.38,43.65" for i in range(60)
    ]
    kept = _read("three.csv", ("date,lon,lat\n" + "\n".join(three)).encode())
    assert kept.frame["has_time"].all()
    two = [f"2023-01-{1 + i % 28:02d} {(4, 5)[i % 2]:02d}:00:00,-79.38,43.65" for i in range(60)]
    dropped = _read("two.csv", ("date,lon,lat\n" + "\n".join(two)).encode())
    assert not dropped.frame["has_time"].any()
    assert (dropped.frame["datetime"].dt.hour == 0).all()


def test_vancouver_year_month_day_hour_minute_in_utm() -> None:
    data = vancouver()
    with pytest.raises(InputError, match="neither longitude/latitude nor British") as info:
        _read("vancouver.csv", data)
    assert "--coordinate-crs" in str(info.value) and "vancouver.csv" in str(info.value)
    inc = _read("vancouver.csv", data, coordinate_crs="EPSG:32610")
    assert inc.crs.to_epsg() == 32610
    assert inc.report.reason_counts() == {"null island (0, 0)": 100}  # VPD's offset rows
    assert abs(inc.frame["lon"].median() + 123.10) < 0.01
    assert abs(inc.frame["lat"].median() - 49.28) < 0.01
    assert inc.frame["has_time"].all() and inc.frame["month"].nunique() == 12
    raw = pd.read_csv(pd.io.common.BytesIO(data), dtype=str)
    raw = raw[raw["X"] != "0"].reset_index(drop=True)
    dt = inc.frame.sort_values("source_row")["datetime"].reset_index(drop=True)
    assert (dt.dt.year.astype(str) == raw["YEAR"]).all()
    assert (dt.dt.minute.astype(str) == raw["MINUTE"]).all()
    assert inc.report.files[0].columns["date"] == "YEAR+MONTH+DAY+HOUR+MINUTE"
    assert any("put together from the columns 'YEAR'" in n for n in inc.report.notes)


def test_date_parts_month_names_blank_hours_and_impossible_days() -> None:
    text = (
        "OCC_YEAR,OCC_MONTH,OCC_DAY,OCC_HOUR,lat,lon\n"
        "2023,January,5,13,43.65,-79.38\n"
        "2023,4,31,1,43.65,-79.38\n"  # 31 April: no date
        "2023,12,24,,43.65,-79.38\n"
    )
    inc = _read("parts.csv", text.encode(), unreadable_dates="keep")
    f = inc.frame.sort_values("source_row")
    assert f["datetime"].iloc[0] == pd.Timestamp("2023-01-05 13:00")
    assert pd.isna(f["datetime"].iloc[1]) and pd.isna(f["month"].iloc[1])
    assert f["datetime"].iloc[2] == pd.Timestamp("2023-12-24") and not f["has_time"].iloc[2]
    assert list(f["has_time"]) == [True, False, False]


def test_european_semicolons_decimal_commas_and_headers() -> None:
    berlin = _read("berlin.csv", europe_semicolon())
    cols = berlin.report.files[0].columns
    assert (cols["lat"], cols["lon"], cols["datetime"], cols["crime_type"]) == (
        "Breitengrad", "Längengrad", "Tatzeit", "Delikt",
    )  # fmt: skip
    assert berlin.crs.to_epsg() == 32633 and berlin.frame["has_time"].all()
    assert abs(berlin.frame["lon"].median() - 13.413) < 0.01
    lyon = _read("lyon.csv", europe_semicolon_fr())
    cols = lyon.report.files[0].columns
    assert (cols["date"], cols["time"], cols["crime_type"]) == (
        "Date des faits",
        "Heure",
        "Catégorie",
    )
    assert lyon.frame["has_time"].all() and lyon.frame["crime_type"].nunique() == 6
    assert (_hours(lyon) > 0).sum() == 24  # "14h30"


def test_seattle_toronto_old_schema_and_a_german_time_column() -> None:
    sea = _read("seattle.csv", seattle())
    cols = sea.report.files[0].columns
    assert cols["datetime"] == "Offense Start DateTime"  # by its words, not the report time
    assert cols["crime_type"] == "Offense"
    assert sea.report.reason_counts() == {"null island (0, 0)": 12}  # its "0E-9"
    old = _read("toronto_old.csv", toronto_old())
    cols = old.report.files[0].columns
    assert (cols["date"], cols["hour"], cols["lon"]) == ("occurrencedate", "occurrencehour", "Long")
    assert (_hours(old) > 0).sum() > 20  # occurrencehour, not 04:00/05:00 UTC
    split = _read("berlin_split.csv", berlin_split())
    cols = split.report.files[0].columns
    assert (cols["date"], cols["time"]) == ("Tatdatum", "Tatzeit")
    assert split.frame["has_time"].all() and split.frame["month"].nunique() == 12


def test_a_date_time_column_is_never_taken_for_the_crime_type() -> None:
    text = (
        "Offense Start DateTime,Offense End DateTime,lat,lon\n"
        "01/02/2023 10:00:00 PM,01/02/2023 11:00:00 PM,47.6,-122.3\n"
    )
    inc = _read("s.csv", text.encode())
    assert "crime_type" not in inc.report.files[0].columns
    assert inc.report.files[0].columns["datetime"] == "Offense Start DateTime"


def test_state_plane_dates_take_the_americas_order() -> None:
    """A week of Chicago's portal rows with X/Y only (every day <= 12): month-first, as the
    place the coordinate CRS puts them says (read day-first, 2 January was 1 February)."""
    inc = _read("c.csv", chicago_xy_week(), coordinate_crs="EPSG:3435")
    assert inc.report.choices["date_order"]["c.csv"].startswith("month-first")
    assert inc.frame["datetime"].max() < pd.Timestamp("2024-01-08")


def test_x_y_read_as_bng_say_how_to_give_another_crs() -> None:
    rows = "\n".join(f"{530000 + 7 * i},{180000 + 5 * i},2024-01-0{1 + i % 9}" for i in range(30))
    inc = _read("uk.csv", f"X,Y,date\n{rows}\n".encode())
    assert inc.crs.to_epsg() == 27700
    (note,) = [n for n in inc.report.notes if n.startswith("Columns of uk.csv")]
    assert "read as British National Grid metres" in note and "--coordinate-crs" in note


def test_a_far_stack_of_rows_at_one_point_is_an_outlier() -> None:
    """Montreal's rows without a location sit at (1, 1): 20 rows at one point in the Gulf of
    Guinea are dense by count, but nothing else is near them; they were kept, drew a hot spot
    at sea and a warning that UTM 18N measured the data 337 % off."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no wide-data warning: judged on the rows kept
        inc = _read("montreal.csv", montreal())
    rep = inc.report
    assert rep.reason_counts() == {"spatial outlier": 20}
    assert inc.frame["lat"].min() > 45
    rej = rep.rejected
    assert (rej["detail"].str.contains("placeholder location")).sum() == 20
    assert any("20 row(s) stacked at one point" in n for n in rep.notes)
    assert "stacks (5 or more at one point" in rep.choices["outlier_rule"]["rule"]
    with pytest.warns(HotspotsWarning, match="measures these data badly"):
        kept = _read("montreal.csv", montreal(), outlier_km=False)  # (1, 1) kept: said
    assert len(kept.frame) == 600


def test_a_stack_near_the_data_and_a_busy_place_are_kept() -> None:
    rng = np.random.default_rng(3)
    lat = np.r_[rng.normal(45.50, 0.01, 300), np.full(12, 45.53)]  # a stack 3 km north
    lon = np.r_[rng.normal(-73.57, 0.01, 300), np.full(12, -73.57)]
    text = "lat,lon\n" + "\n".join(f"{a:.6f},{b:.6f}" for a, b in zip(lat, lon, strict=True))
    inc = _read("near.csv", text.encode())
    assert len(inc.frame) == 312 and not inc.report.reason_counts()
    from hotspots.ingest import _outliers

    x = np.r_[rng.normal(0, 500, 200), np.full(8, 60_000.0), np.full(6, 61_000.0)]
    y = np.r_[rng.normal(0, 500, 200), np.zeros(8), np.zeros(6)]
    stacks = np.zeros(len(x), dtype=bool)
    flag, params, _ = _outliers(x, y, None, None, stacks)
    # two stacks 1 km apart: each has the other in its 3 km square, so neither is a stack
    assert not stacks.any() and not flag[200:].any()
    x2 = np.r_[x[:200], np.full(8, 60_000.0)]
    y2 = np.r_[y[:200], np.zeros(8)]
    stacks2 = np.zeros(len(x2), dtype=bool)
    flag2, _, _ = _outliers(x2, y2, None, None, stacks2)
    assert stacks2[200:].all() and flag2[200:].all() and not flag2[:200].any()
    # distinct points with weights give the same as the rows one by one
    pts, w = np.unique(np.column_stack([x2, y2]), axis=0, return_counts=True)
    flag3, _, _ = _outliers(pts[:, 0], pts[:, 1], None, w)
    assert flag3[pts[:, 0] == 60_000.0].all() and flag3.sum() == 1


def test_grids_other_than_bng_are_refused_with_the_fix() -> None:
    for name, make, epsg, zone in (
        ("nz.csv", new_zealand, "EPSG:2193", 32760),
        ("sydney.csv", australia_mga_only, "EPSG:7856", 32756),
    ):
        data = make()
        with pytest.raises(InputError, match="do not hold British National Grid") as info:
            _read(name, data)
        assert "--coordinate-crs" in str(info.value) and name in str(info.value)
        inc = _read(name, data, coordinate_crs=epsg)
        assert inc.crs.to_epsg() == zone and len(inc.frame) == 600


def test_a_few_rows_outside_bng_are_still_rejected_one_by_one() -> None:
    good = "\n".join(f"{530000 + i},{180000 + i}" for i in range(20))
    inc = _read("f.csv", f"easting,northing\n{good}\n800000,180453\n".encode())
    assert inc.report.reason_counts() == {"coordinates out of range": 1}


def test_other_exports_read_as_before() -> None:
    """NYPD, Chicago's portal, Brisbane, PSNI and British Transport Police need no fix."""
    nyc = _read("nypd.csv", nypd())
    assert nyc.report.files[0].columns["date"] == "CMPLNT_FR_DT" and nyc.frame["has_time"].all()
    chi = _read("chicago.csv", chicago_portal())
    assert chi.crs.to_epsg() == 32616 and chi.frame["has_time"].all()
    bne = _read("brisbane.csv", australia())
    assert bne.crs.to_epsg() == 32756  # its latitude/longitude win over its MGA columns
    ni = _read("psni.csv", psni())
    assert ni.crs.to_epsg() in (32629, 32630) and len(ni.frame) == 600
    rail = _read("btp.csv", btp())
    assert rail.crs.to_epsg() == 27700 and len(rail.frame) == 900  # Thurso and Norwich kept


def test_columns_found_are_announced_and_point_text_is_no_location() -> None:
    chi = _read("chicago.csv", chicago_portal())
    (note,) = [n for n in chi.report.notes if n.startswith("Columns of chicago.csv")]
    assert "crime type 'Primary Type'" in note and "date 'Date'" in note
    assert "dates read month-first" in note
    # its Location "(41.878, -87.629)" is a point: the Block names the place
    assert chi.report.files[0].columns["location"] == "Block"
    assert chi.frame["location"].iloc[0] == "001XX N STATE ST"
    given = _read("chicago.csv", chicago_portal(), columns={"location": "Location"})
    assert given.frame["location"].iloc[0].startswith("(41.")  # the user's choice stands
    sf_inc = _read("sf.csv", sf())
    assert sf_inc.report.files[0].columns["location"] == "Intersection"
    bare = _read("bare.csv", b"lat,lon\n41.88,-87.63\n41.88,-87.62\n")
    (note,) = [n for n in bare.report.notes if n.startswith("Columns of bare.csv")]
    assert "no crime type or date column found" in note
    uk = _read("uk.csv", btp())
    assert not any(n.startswith("Columns of") for n in uk.report.notes)  # police.uk: one layout


def test_a_whole_country_in_one_utm_zone_is_said_to_be_measured_badly() -> None:
    with pytest.warns(HotspotsWarning, match="measures these data badly"):
        inc = _read("us.csv", us_national())
    assert inc.crs.to_epsg() == 32613  # the choice is unchanged, its cost said
    reason = inc.report.choices["crs_reason"]
    assert "off by up to 8." in reason and "read each city or region on its own" in reason
    assert crs.scale_error("EPSG:32613", [-73.9], [40.7]) > 0.08
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a city: no warning, the reason as before
        city = _read("nypd.csv", nypd())
    assert city.report.choices["crs_reason"].endswith("(-73.944, 40.811)")


def test_cli_detect_reads_an_lapd_export_and_writes_map_and_geojson(tmp_path) -> None:
    src = tmp_path / "Crime_Data_from_2020_to_Present.csv"
    src.write_bytes(lapd(n=1500))
    out, page = tmp_path / "hot.geojson", tmp_path / "map.html"
    args = ["--quiet", "detect", str(src), "--crime-types", "all", "--out", str(out)]
    assert cli.main([*args, "--map", str(page)]) == 0
    back = gpd.read_file(out)
    assert len(back) > 0 and back.crs.to_epsg() == 4326
    assert page.stat().st_size > 0


# --- the map across the antimeridian ----------------------------------------------------------


def test_map_side_of_zones() -> None:
    assert crs.map_side("EPSG:32760") == 1 and crs.map_side("EPSG:32660") == 1
    assert crs.map_side("EPSG:32601") == -1 and crs.map_side("EPSG:32701") == -1
    assert crs.map_side("EPSG:27700") == 0 and crs.map_side("EPSG:32630") == 0
    assert crs.map_side(None) == 0
    lon = np.array([179.9, -179.9, np.nan])
    assert np.allclose(
        crs.map_longitudes(lon, "EPSG:32760"), [179.9, 180.1, np.nan], equal_nan=True
    )
    assert np.allclose(
        crs.map_longitudes(lon, "EPSG:32601"), [-180.1, -179.9, np.nan], equal_nan=True
    )
    assert crs.map_longitudes(lon, "EPSG:27700") is not None
    assert np.array_equal(crs.map_longitudes(lon, "EPSG:27700"), lon, equal_nan=True)


def test_fiji_map_is_continuous_and_geojson_stays_cut() -> None:
    inc = _read("fiji.csv", fiji())
    res = detect_hotspots(inc, "kde")
    html = mapping.build_map(res.hotspots, inc).get_root().render()
    (fit,) = re.findall(r"fitBounds\(\s*\[\[(.*?)\]\]", html, re.S)
    s, w, n, e = (float(v) for v in re.findall(r"-?\d+\.\d+", fit))
    assert 179.9 < w < 180.0 < e < 180.1 and s < n  # not the whole world
    lons = [float(v) for v in re.findall(r"\[(-?\d+\.\d+), -16\.\d+\]", html)]
    heat = [float(v) for v in re.findall(r"\[-16\.\d+, (-?\d+\.\d+), [\d.]+\]", html)]
    assert lons and heat and min(lons + heat) > 179.9 and max(lons + heat) < 180.1
    fc = json.loads(hotspot_bytes(res, "geojson"))
    west, _, east, _ = fc["bbox"]
    assert west > east  # RFC 7946: cut at 180, bbox across
    for f in fc["features"]:
        for c in re.findall(r"-?\d+\.\d+", json.dumps(f["geometry"]["coordinates"])):
            assert abs(float(c)) <= 180.0
    # a click drawn at 180.0x (Leaflet's longitude beyond 180) finds the hot spot
    hid = res.hotspots["hotspot_id"].iloc[0]
    p = res.hotspots.geometry.iloc[0].representative_point()
    lon, lat = crs.to_wgs84(np.array([p.x]), np.array([p.y]), res.hotspots.crs)
    drawn = float(crs.map_longitudes(lon, res.hotspots.crs)[0])
    assert mapping.hotspot_at(res.hotspots, float(lat[0]), drawn) == hid
    assert mapping.hotspot_at(res.hotspots, float(lat[0]), float(lon[0])) == hid


def test_a_map_that_does_not_cross_is_unchanged() -> None:
    box = shapely.box(174.7, -36.9, 174.8, -36.8)  # Auckland, UTM 60S: no west longitude
    gdf = gpd.GeoDataFrame({"rank": [1]}, geometry=[box], crs=4326).to_crs(32760)
    plain = mapping.map_geometries(gdf.geometry)
    expect = shapely.transform(gdf.to_crs(4326).geometry.values, lambda c: np.round(c, 5))
    assert all(a.equals_exact(b, 0) for a, b in zip(plain.values, expect, strict=True))
    tonga = gpd.GeoSeries([shapely.box(-175.3, -21.2, -175.1, -21.1)], crs=4326).to_crs(32701)
    assert mapping.map_geometries(tonga).total_bounds[0] < -175  # zone 1 west side unchanged
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pyproj.CRS.from_epsg(32701).is_projected


# --- the app's upload -----------------------------------------------------------------------


def test_app_upload_of_vancouver_asks_for_the_crs_then_reads_it() -> None:
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    app = str(Path(__file__).resolve().parent.parent / "app.py")
    at = AppTest.from_file(app, default_timeout=180).run()
    name = "crimedata_csv_AllNeighbourhoods_w13.csv"  # a name no other test uploads
    data = vancouver()
    at.sidebar.file_uploader(key="uploads").set_value((name, data, "text/csv"))
    at.run()
    assert not at.exception, at.exception
    errors = " ".join(str(e.value) for e in at.error).replace("\\", "")  # markdown escapes
    assert "neither longitude/latitude nor British National Grid" in errors
    assert "coordinate" in errors.lower() and name in errors
    at.text_input(key="colmap_coordinate_crs").set_value("EPSG:32610")
    next(b for b in at.button if "Use these columns" in str(b.label)).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.session_state["tab"] = "Data and report"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    read = next(m.value for m in at.metric if m.label == "Rows read")
    assert int(str(read).replace(",", "")) == 600
    shown = " ".join(str(t.value) for t in [*at.text, *at.markdown, *at.caption])
    assert "put together from the columns 'YEAR'" in shown
