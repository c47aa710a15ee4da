"""Binned density surfaces (moments + FFT) against the exact surface: hand cases, error bounds on
random data (spread, police.uk-stacked, gaussian, many blocks), and the estimator's choice."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from hotspots import Incidents, ParameterError
from hotspots import kde as kde_mod
from hotspots.detect import detect
from hotspots.kde import (
    EXACT_MAX_EVALUATIONS,
    MAX_RIM_ERROR,
    KDEHotspots,
    brute_force_density,
    density_surface,
    kernel_density,
    rim_error,
    surface_method,
)
from hotspots.record import choices_of

X0, Y0 = 430_000.0, 380_000.0


def town(n, *, seed=0, extent=4000.0, map_points=None):
    """Clustered incidents: 60 % in 12 hot spots (sd 30-120 m), 40 % uniform; optionally
    snapped to ``map_points`` locations drawn from the same pattern (police.uk)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, extent, (12, 2))

    def draw(m):
        k = int(0.6 * m)
        which = rng.integers(0, 12, k)
        sd = rng.uniform(30, 120, 12)[which, None]
        return np.r_[
            centres[which] + rng.normal(0, 1, (k, 2)) * sd, rng.uniform(0, extent, (m - k, 2))
        ]

    pts = draw(n) if map_points is None else draw(map_points)[rng.integers(0, map_points, n)]
    return pts[:, 0] + X0, pts[:, 1] + Y0


def dense_pair(x, y, w=None, *, kernel="quartic", bandwidth=150.0, cell=25.0):
    """Exact and binned surfaces on the exact surface's extent, and the exact peak."""
    kw = dict(bandwidth=bandwidth, cell_size=cell, kernel=kernel)
    exact = density_surface(x, y, w, method="exact", **kw)
    binned = density_surface(x, y, w, method="binned", **kw)
    ref, xc, yc = exact.to_dense()
    half = cell / 2
    got, _, _ = binned.to_dense((xc[0] - half, yc[0] - half, xc[-1] + half, yc[-1] + half))
    return ref, got, exact, binned


# ------------------------------------------------------------------------------- hand cases
def test_moment_expansion_by_hand():
    """At the point's own cell centre (D = 0) the quartic's second-order expansion in the
    offset f is 3/(pi h^2) (1 - 2 f^2 / h^2), the exact kernel 3/(pi h^2) (1 - f^2 / h^2)^2."""
    h, c = 100.0, 20.0
    r = 5
    stencils = kde_mod._kernel_terms(h, c, "quartic", r)
    fx, fy = np.array([10.0]), np.array([0.0])
    mom = [np.ones(1), *kde_mod._moments(fx, fy)]
    approx = sum(m[0] * s[r, r] for m, s in zip(mom, stencils, strict=True))
    base = 3 / (math.pi * h * h) * 1e6
    assert approx == pytest.approx(base * (1 - 2 * 100 / 1e4))  # 93.58 per km2
    exact = kernel_density(np.array(100.0), h)
    assert exact == pytest.approx(base * (1 - 100 / 1e4) ** 2)
    assert exact - approx == pytest.approx(base * 1e-4)  # the dropped f^4 / h^4 term
    # f = 0: the stencil of the constant moment is the kernel sampled on the grid, exactly
    offs = np.arange(-r, r + 1) * c
    d2 = offs[None, :] ** 2 + offs[:, None] ** 2
    np.testing.assert_allclose(stencils[0], kernel_density(d2, h), rtol=1e-12, atol=1e-12)


def test_rim_error_by_hand():
    """Quartic, h = 150 m, 25 m cells: the worst cell is where the support cuts between a point
    at a cell corner and its cell centre."""
    e = rim_error(150.0, 25.0)
    # a cell centre at |D| = 150 m (D = (150, 0)) is kept by the stencil; a point at f =
    # (-12.5, +-12.5) is then 162.98 m away, where the exact kernel is 0 and the expansion
    # 1 + ... gives A^2 + ... with A = 0: 2A(2D.f - |f|^2)/h^2 + 4(D.f)^2/h^4 = 4 (150*12.5)^2 /
    # 150^4 = 4 * 12.5^2 / 150^2 = 0.02778 of the peak
    assert e == pytest.approx(4 * 12.5**2 / 150**2, rel=1e-9)
    assert rim_error(150.0, 25.0, "gaussian") < 1e-3
    assert rim_error(150.0, 50.0) > MAX_RIM_ERROR  # three cells per bandwidth: stays exact


def test_single_point_is_exact():
    """One heavy location: its binned kernel is replaced by the exact one."""
    x, y = np.array([X0 + 3.7]), np.array([Y0 - 8.1])
    ref, got, _, binned = dense_pair(x, y)
    assert np.abs(got - ref).max() <= 1e-5 * ref.max()
    assert binned.total() == pytest.approx(1.0, rel=1e-6)


def test_point_at_cell_centre_by_hand():
    """A point on a cell centre: no rim to correct; the centre holds 3/(pi h^2) per km^2."""
    s = density_surface([X0 + 12.5], [Y0 + 12.5], bandwidth=100.0, cell_size=25.0, method="binned")
    assert s.values_at(X0 + 12.5, Y0 + 12.5)[0] == pytest.approx(
        1e6 * 3 / (math.pi * 1e4), rel=1e-6
    )
    # 50 m east: 3/(pi h^2) (1 - 1/4)^2
    assert s.values_at(X0 + 62.5, Y0 + 12.5)[0] == pytest.approx(
        1e6 * 3 / (math.pi * 1e4) * 0.5625, rel=1e-6
    )
    assert s.values_at(X0 + 112.5 + 25, Y0 + 12.5)[0] == 0.0


# ------------------------------------------------------------------------ random error bounds
@pytest.mark.parametrize("seed", [0, 1])
def test_spread_points_within_1e3_of_peak(seed):
    x, y = town(40_000, seed=seed)
    ref, got, exact, binned = dense_pair(x, y)
    assert np.abs(got - ref).max() <= 1e-3 * ref.max()
    assert binned.total() == pytest.approx(exact.total(), rel=1e-3)
    # spot check the exact surface itself against brute force
    i = np.argmax(ref)
    xs, ys = exact.cells()[0], exact.cells()[1]
    k = np.argmax(exact.cells()[2])
    assert brute_force_density(x, y, None, xs[k], ys[k], 150.0)[0] == pytest.approx(ref.flat[i])


@pytest.mark.parametrize("seed", [0, 1])
def test_police_uk_stacked_within_1e3_of_peak(seed):
    x, y = town(60_000, seed=seed, map_points=3_000)
    w = np.random.default_rng(seed).choice([1.0, 1.0, 2.5, 10.0], x.size)  # harm weights
    ref, got, _, binned = dense_pair(x, y, w)
    assert np.abs(got - ref).max() <= 1e-3 * ref.max()
    assert binned.total() == pytest.approx(w.sum(), rel=1e-3)


def test_gaussian_within_1e3_of_peak():
    x, y = town(30_000, seed=3)
    ref, got, _, _ = dense_pair(x, y, kernel="gaussian", bandwidth=60.0, cell=12.5)
    assert np.abs(got - ref).max() <= 1e-3 * ref.max()


def test_blocks_and_tiles_agree(monkeypatch):
    """Many small blocks (halos across block and tile edges) give the single block's surface."""
    x, y = town(20_000, seed=4, extent=6000.0)
    one = density_surface(x, y, bandwidth=150.0, cell_size=25.0, method="binned")
    monkeypatch.setattr(kde_mod, "BINNED_BLOCK_CELLS", 40)
    many = density_surface(x, y, bandwidth=150.0, cell_size=25.0, method="binned", tile_size=16)
    a, xc, yc = one.to_dense()
    b, _, _ = many.to_dense((xc[0] - 12.5, yc[0] - 12.5, xc[-1] + 12.5, yc[-1] + 12.5))
    assert np.abs(a - b).max() <= 1e-5 * a.max()
    ref = density_surface(x, y, bandwidth=150.0, cell_size=25.0, method="exact").to_dense()[0]
    assert np.abs(b - ref).max() <= 1e-3 * ref.max()


@pytest.mark.parametrize(
    ("kernel", "bandwidth", "cell"), [("quartic", 150.0, 25.0), ("gaussian", 60.0, 12.5)]
)
def test_scattered_and_fft_blocks_agree(monkeypatch, kernel, bandwidth, cell):
    """Sparse blocks scatter each occupied cell's stencils, dense ones go through the FFT: the
    same sums, so the two agree to the FFT's round-off floor (1e-6 of the peak), and the scattered
    surface is the binned arithmetic in double precision (checked by hand on a few cells)."""
    x, y = town(20_000, seed=7, extent=6000.0, map_points=4_000)
    w = np.random.default_rng(7).choice([1.0, 2.5], x.size)
    kw = dict(bandwidth=bandwidth, cell_size=cell, kernel=kernel, method="binned")
    monkeypatch.setattr(kde_mod, "SCATTER_COST", 0.0)  # every block scattered
    scattered = density_surface(x, y, w, **kw)
    monkeypatch.setattr(kde_mod, "SCATTER_COST", math.inf)  # every block by FFT
    fft = density_surface(x, y, w, **kw)
    a, xc, yc = fft.to_dense()
    half = cell / 2
    b, _, _ = scattered.to_dense((xc[0] - half, yc[0] - half, xc[-1] + half, yc[-1] + half))
    assert np.abs(a - b).max() <= 2e-6 * a.max()
    exact = density_surface(x, y, w, **{**kw, "method": "exact"}).to_dense()[0]
    assert np.abs(b - exact).max() <= 1e-3 * exact.max()
    # by hand, before heavy locations are corrected: a cell holds the sum over the points within
    # r cells of w m_k(f) S_k(D), in double precision
    monkeypatch.setattr(kde_mod, "SCATTER_COST", 0.0)
    monkeypatch.setattr(kde_mod, "_correct_heavy", lambda *args: None)
    raw = density_surface(x, y, w, **kw)
    r = math.ceil(kde_mod.kernel_support(bandwidth, kernel) / cell)
    stencils = kde_mod._kernel_terms(bandwidth, cell, kernel, r)
    ci = np.floor((x - raw.origin[0]) / cell).astype(int)
    cj = np.floor((y - raw.origin[1]) / cell).astype(int)
    fx = x - (raw.origin[0] + (ci + 0.5) * cell)
    fy = y - (raw.origin[1] + (cj + 0.5) * cell)
    mom = np.stack([np.ones_like(fx), fx, fy, fx * fx, fx * fy, fy * fy]) * w
    for k in range(0, len(x), 1_000):  # the cell of every 1000th point, and one 3 cells east
        for ti, tj in ((ci[k], cj[k]), (ci[k] + 3, cj[k])):
            near = (np.abs(ci - ti) <= r) & (np.abs(cj - tj) <= r)
            di, dj = ti - ci[near], tj - cj[near]
            want = np.einsum("kn,kn->", mom[:, near], stencils[:, dj + r, di + r])
            got = raw.values_at(*raw.cell_centre(ti, tj))[0]
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12 * a.max())


def test_scatter_or_fft_by_cost():
    """A block of F FFT cells is scattered when occupied cells x stencil cells x SCATTER_COST is
    below F log2 F: 1024 x 1024 -> 20.97e6 units, 113 stencil cells at cost 2 -> 92,794 cells."""
    f = (1024, 1024)
    assert kde_mod.SCATTER_COST == 2.0
    assert kde_mod._scatter_is_cheaper(92_794, 113, f)
    assert not kde_mod._scatter_is_cheaper(92_795, 113, f)


def test_zero_weights_and_empty():
    kw = dict(bandwidth=100.0, cell_size=20.0)
    s = density_surface([X0, X0 + 50], [Y0, Y0], [0.0, 2.0], method="binned", **kw)
    alone = density_surface([X0 + 50], [Y0], [2.0], method="exact", **kw)
    assert s.total() == pytest.approx(alone.total(), rel=1e-6)
    assert s.total() == pytest.approx(2.0, rel=1e-3)  # a Riemann sum of the kernel
    assert s.values_at(X0 - 90, Y0)[0] == 0.0  # nothing from the zero-weight point
    assert density_surface([], [], method="binned", **kw).is_empty


# ------------------------------------------------------------------------------ the choice
def test_surface_method_auto():
    small = EXACT_MAX_EVALUATIONS // 169
    assert surface_method(small, bandwidth=150.0, cell_size=25.0) == "exact"
    assert surface_method(small + 1, bandwidth=150.0, cell_size=25.0) == "binned"
    assert surface_method(10**7, bandwidth=150.0, cell_size=50.0) == "exact"  # coarse cells
    assert surface_method(5, bandwidth=150.0, cell_size=25.0, method="binned") == "binned"
    with pytest.raises(ParameterError):
        surface_method(5, bandwidth=150.0, cell_size=25.0, method="fft")


def test_estimator_binned_same_hotspots():
    """The hot spots' meaning is unchanged: same level rule, nearly the same polygons."""
    rng = np.random.default_rng(5)
    x, y = town(30_000, seed=5, extent=6000.0)
    area = shapely.box(X0, Y0, X0 + 6000, Y0 + 6000)
    inc = Incidents.from_xy(x, y, study_area=area, weight=rng.choice([1.0, 3.0], x.size))
    exact = KDEHotspots(surface="exact").fit(inc)
    binned = KDEHotspots(surface="binned").fit(inc)
    assert exact.params_["surface_method_used"] == "exact"
    assert binned.params_["surface_method_used"] == "binned"
    assert binned.params_["surface"] == "binned"
    assert any(n.startswith("Density surface binned (set by the user)") for n in binned.notes_)
    assert binned.level_ == pytest.approx(exact.level_, rel=2e-3)
    assert len(binned.hotspots_) == len(exact.hotspots_)
    a = shapely.union_all(exact.hotspots_.geometry.to_numpy())
    b = shapely.union_all(binned.hotspots_.geometry.to_numpy())
    assert a.symmetric_difference(b).area <= 0.01 * a.area
    np.testing.assert_allclose(binned.hotspots_.mass, exact.hotspots_.mass, rtol=5e-3)
    choices = choices_of(binned)  # what the CLI prints and every export records
    assert choices.params["surface_method_used"] == "binned"
    assert any("binned" in line for line in choices.lines())
    small = Incidents.from_xy(x[:3000], y[:3000], study_area=area)
    via_detect = detect(small, "kde", surface="binned")
    assert via_detect.params["method_parameters"]["surface_method_used"] == "binned"
    auto = KDEHotspots().fit(Incidents.from_xy(x[:500], y[:500]))
    assert auto.params_["surface_method_used"] == "exact"
    assert any(n.startswith("Density surface exact") for n in auto.notes_)


def test_estimator_rejects_unknown_surface():
    with pytest.raises(ParameterError):
        KDEHotspots(surface="fft").fit(Incidents.from_xy([X0, X0 + 10], [Y0, Y0]))


def _scatter_tile_by_tile(surface, ci, cj, foot, values):
    """The previous ``kde._scatter``: one home tile at a time, its padded window's nine parts
    added in order (the reference the batched scatter must equal bit for bit)."""
    t = surface.tile_size
    r = int(np.abs(foot).max()) if foot.size else 0
    tc, tr = ci // t, cj // t
    key = (tr - int(tr.min())) * (int(tc.max() - tc.min()) + 2) + (tc - int(tc.min()))
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    width = t + 2 * r
    flat = foot[:, 1] * width + foot[:, 0]
    chunk = max(1, kde_mod._CHUNK_ELEMENTS // max(1, len(foot)))
    spans = (
        (-1, slice(0, r), slice(t - r, t)),
        (0, slice(r, r + t), slice(0, t)),
        (1, slice(r + t, 2 * r + t), slice(0, r)),
    )
    for idx in np.split(order, bounds):
        ktr, ktc = int(tr[idx[0]]), int(tc[idx[0]])
        home = (cj[idx] - ktr * t + r) * width + (ci[idx] - ktc * t + r)
        padded = np.zeros(width * width)
        for s in range(0, idx.size, chunk):
            cell = home[s : s + chunk, None] + flat[None, :]
            vals = values(idx[s : s + chunk])
            padded += np.bincount(cell.ravel(), weights=vals.ravel(), minlength=width * width)
        window = padded.reshape(width, width)
        for dr, window_rows, tile_rows in spans:
            for dc, window_cols, tile_cols in spans:
                part = window[window_rows, window_cols]
                if not part.any():
                    continue
                tile = surface.tiles.get((ktr + dr, ktc + dc))
                if tile is None:
                    tile = surface.tiles[(ktr + dr, ktc + dc)] = np.zeros((t, t))
                tile[tile_rows, tile_cols] += part


@pytest.mark.parametrize(
    ("method", "kernel", "bandwidth", "cell", "chunk", "window"),
    [
        ("binned", "quartic", 150.0, 25.0, 2_000_000, 262_144),  # as shipped
        ("binned", "quartic", 150.0, 25.0, 3_000, 20_000),  # many batches, tiles over a chunk
        ("binned", "gaussian", 60.0, 12.5, 200_000, 50_000),
        ("exact", "quartic", 150.0, 25.0, 2_000_000, 262_144),
        ("exact", "quartic", 100.0, 10.0, 5_000, 30_000),
    ],
)
def test_batched_scatter_equals_tile_by_tile(
    monkeypatch, method, kernel, bandwidth, cell, chunk, window
):
    """The scatter adds many home tiles per call: every tile, the order tiles were made in,
    and every value the same, bit for bit, as one home tile at a time (the previous code), for
    the binned surface (sparse blocks and the heavy locations' corrections) and the exact one,
    with batches of many tiles and tiles holding more items than one chunk."""
    x, y = town(30_000, seed=3, extent=9000.0, map_points=5_000)
    w = np.random.default_rng(3).choice([1.0, 3.0], x.size)
    kw = dict(bandwidth=bandwidth, cell_size=cell, kernel=kernel, method=method, tile_size=16)
    monkeypatch.setattr(kde_mod, "SCATTER_COST", 0.0)  # every binned block scattered
    monkeypatch.setattr(kde_mod, "_CHUNK_ELEMENTS", chunk)
    monkeypatch.setattr(kde_mod, "_WINDOW_ELEMENTS", window)
    batched = density_surface(x, y, w, **kw)
    monkeypatch.setattr(kde_mod, "_scatter", _scatter_tile_by_tile)
    alone = density_surface(x, y, w, **kw)
    assert list(batched.tiles) == list(alone.tiles) and len(alone.tiles) > 50
    for key, arr in alone.tiles.items():
        np.testing.assert_array_equal(batched.tiles[key], arr)


def test_heavy_correction_rows_do_not_depend_on_the_batch():
    """The heavy locations' binned kernels are evaluated with einsum, whose rows do not depend
    on the other rows of the call (a BLAS matrix product's do), so batching cannot move them."""
    rng = np.random.default_rng(0)
    mom = rng.normal(size=(5_000, 6))
    stencils = rng.normal(size=(6, 113))
    whole = np.einsum("nk,kf->nf", mom, stencils)
    for step in (1, 7, 64, 999):
        parts = [np.einsum("nk,kf->nf", mom[s : s + step], stencils) for s in range(0, 5_000, step)]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
