"""Serve folium's JavaScript and CSS locally, and escape user text for folium's HTML.

folium points every map at CDNs (jsdelivr, cdnjs, code.jquery.com, netdna.bootstrapcdn.com). On a
locked-down network a single unreachable URL leaves the streamlit-folium map blank, because its
iframe loads the ``<script src>`` tags one at a time and gives up on the first error. The files are
package data under ``hotspots/static/vendor/`` (see its ``README.md`` for versions and licences) and
served by Streamlit's static file serving at ``/app/static/vendor/...`` (the ``static`` folder next
to ``app.py`` is a link to ``hotspots/static``).

Four things live here:

* :data:`CDN_TO_LOCAL` and :func:`localize`, which rewrite each map element's ``default_js`` and
  ``default_css`` to the local copies and raise :class:`UnmappedAssetError` on any web URL without
  one, so that a new folium plugin fails a test rather than a user;
* :func:`escape_text`, the package's one HTML escaper, because folium does not escape anything:
  tooltip and popup text goes through ``innerHTML`` and, in ``folium.Tooltip``, through a
  JavaScript template literal (the briefing uses it too);
* :func:`report_environment`, the one Jinja environment of the package's HTML reports (briefing,
  tracking, assessment, problem profile): autoescaped, every printed value through
  :func:`escape_text`, strict about undefined names;
* :func:`standalone_html`, a self-contained page (all scripts and styles inlined) for the "download
  map" button, which opens offline from a ``file://`` URL.

Importing this module also makes branca print what folium's elements rendered as it is
(:class:`RenderedText`): without that, a location text such as ``{{ ... }}`` from an uploaded CSV
ran as Jinja template code on the server when a map was printed.

Nothing here imports Streamlit.
"""

from __future__ import annotations

import base64
import html
import math
import mimetypes
import re
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import branca.colormap
import branca.element
import folium
import jinja2
import numpy as np
from branca.element import Element, MacroElement
from jinja2 import Template
from markupsafe import Markup

__all__ = [
    "CDN_TO_LOCAL",
    "DEFAULT_PREFIX",
    "RenderedText",
    "VENDOR_DIR",
    "UnmappedAssetError",
    "asset_links",
    "escape_text",
    "format_value",
    "localize",
    "report_environment",
    "standalone_html",
    "walk",
]


class RenderedText:
    r"""What branca makes of a text an element rendered to: the text itself, not a template.

    branca's ``MacroElement.render`` (and folium's elements, the same way) put each element's
    rendered header, body and script into the page as ``Element(text)``, and ``Element``
    compiles its text as a Jinja template and renders it again when the page is printed. That
    text holds the data (a GeoJSON layer's properties, a tooltip's location text), so a CSV
    whose location reads ``{{ cycler.__init__.__globals__.os.getpid() }}`` ran that code on the
    server (and one with an unclosed ``{{`` failed to compile). The text is final once
    rendered, so this module sets ``branca.element.Template``, which ``Element`` calls for a
    template given as text, to :func:`element_template`: the text is printed as it is. Jinja's
    own handling of plain text is kept (line breaks as ``\n``, one final line break dropped),
    so a page without template syntax in its data is the same, byte for byte.

    Parameters
    ----------
    source : str
        The rendered text.

    Examples
    --------
    >>> RenderedText("var a = '{{ 7 * 7 }}';\r\n").render(this=None, kwargs={})
    "var a = '{{ 7 * 7 }}';"
    """

    def __init__(self, source: str) -> None:
        text = _LINE_BREAKS.sub("\n", str(source))
        self.source = text[:-1] if text.endswith("\n") else text

    def render(self, *args: Any, **kwargs: Any) -> str:
        """The text, whatever the arguments."""
        return self.source


_LINE_BREAKS = re.compile(r"\r\n|\r")
#: The one template branca gives ``Element`` as text on purpose: a ``Div``'s body, its children.
_CHILDREN_TEMPLATE = (
    "{% for name, element in this._children.items() %}{{element.render(**kwargs)}}{% endfor %}"
)


def element_template(source: str) -> Any:
    """The template of a branca ``Element`` given as text: :class:`RenderedText`, but for the
    children template of branca's ``Div`` (a Jinja template of the library's own)."""
    if source == _CHILDREN_TEMPLATE:
        return Template(source)
    return RenderedText(source)


branca.element.Template = element_template  # type: ignore[misc,assignment]

#: The vendored files: package data found through :mod:`importlib.resources`, so an installed wheel
#: carries them. A directory on disk, because Streamlit serves them from disk (at
#: ``/app/static/vendor/``, through the ``static`` link next to ``app.py`` or the one ``hotspots
#: app`` makes); pip installs packages unzipped.
VENDOR_DIR = Path(str(resources.files("hotspots").joinpath("static", "vendor")))

#: URL prefix of the vendored files as seen from the streamlit-folium iframe
#: (``/component/streamlit_folium.st_folium/index.html``). Being relative, it also works when the
#: app runs under ``--server.baseUrlPath``.
DEFAULT_PREFIX = "../../app/static/vendor/"

#: Every CDN URL that folium 0.20 and the plugins hotspots uses emit, mapped to its path under
#: :data:`VENDOR_DIR`. Add an entry (and the file) before using a new plugin; :func:`localize`
#: raises on anything missing. (A URL is not split, so some lines here are longer than 100.)
CDN_TO_LOCAL: dict[str, str] = {
    # folium.Map.default_js
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet/leaflet.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery-3.7.1.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": (
        "bootstrap/bootstrap.bundle.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": (  # noqa: E501
        "awesome-markers/leaflet.awesome-markers.js"
    ),
    # folium.Map.default_css
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet/leaflet.css",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": (
        "bootstrap/bootstrap.min.css"
    ),
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": (
        "glyphicons/bootstrap-glyphicons.css"
    ),
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": (
        "fontawesome/css/all.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": (  # noqa: E501
        "awesome-markers/leaflet.awesome-markers.css"
    ),
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css": (  # noqa: E501
        "folium/leaflet.awesome.rotate.min.css"
    ),
    # folium.plugins.HeatMap (the file ships in the folium wheel)
    "https://cdn.jsdelivr.net/gh/python-visualization/folium@main/folium/templates/leaflet_heat.min.js": (  # noqa: E501
        "folium/leaflet_heat.min.js"
    ),
    # folium.plugins.MarkerCluster and FastMarkerCluster
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js": (
        "markercluster/leaflet.markercluster.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css": (
        "markercluster/MarkerCluster.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css": (  # noqa: E501
        "markercluster/MarkerCluster.Default.css"
    ),
}

_ASSET_ATTRS = ("default_js", "default_css")
_WEB_URL = re.compile(r"^(?:https?:)?//", re.IGNORECASE)
_IMAGE_PATH_NAME = "hotspots_icon_image_path"


class UnmappedAssetError(KeyError):
    """A map element asks for a web URL that has no vendored copy.

    A ``KeyError`` so that callers treating it as a missing mapping keep working; the message says
    which element and URL, and how to fix it.
    """

    def __str__(self) -> str:  # KeyError quotes its argument; show the sentence as written
        return str(self.args[0]) if self.args else ""


def walk(element: Element) -> Iterator[Element]:
    """Yield ``element`` and all its descendants, depth first, in ``_children`` order.

    This is the same traversal streamlit-folium uses to collect ``default_js``/``default_css``.
    """
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from walk(child)


def asset_links(m: Element) -> list[str]:
    """Every ``default_js``/``default_css`` URL in the tree of ``m``, deduplicated, in order."""
    links: list[str] = []
    for el in walk(m):
        for attr in _ASSET_ATTRS:
            links.extend(url for _, url in getattr(el, attr, None) or [])
    return list(dict.fromkeys(links))


def localize(m: folium.Map, prefix: str = DEFAULT_PREFIX) -> folium.Map:
    """Point every asset of the map at the vendored copies, in place.

    Sets ``default_js``/``default_css`` as *instance* attributes (streamlit-folium and folium's
    renderer read them from the instance), and adds a script that sets
    ``L.Icon.Default.imagePath`` (Leaflet otherwise guesses it from the stylesheet link, which fails
    inside the streamlit-folium iframe).

    Parameters
    ----------
    m : folium.Map
        A fully built map (add every layer first).
    prefix : str, default ``DEFAULT_PREFIX``
        Prepended to each path under ``static/vendor/``.

    Returns
    -------
    folium.Map
        ``m`` itself, for chaining. Calling it twice is harmless.

    Raises
    ------
    UnmappedAssetError
        If an element asks for a web URL (``http://``, ``https://`` or ``//``) that is not in
        :data:`CDN_TO_LOCAL`, or the tree holds a branca colormap (streamlit-folium then adds d3
        from a CDN behind our back).
    """
    for el in walk(m):
        if isinstance(el, branca.colormap.ColorMap):
            msg = (
                f"{type(el).__name__} in the map makes streamlit-folium load d3 from a CDN. "
                "Draw the legend another way (see hotspots.mapping)."
            )
            raise UnmappedAssetError(msg)
        for attr in _ASSET_ATTRS:
            links = getattr(el, attr, None)
            if not links:
                continue
            new = []
            for name, url in links:
                if _WEB_URL.match(url):
                    if url not in CDN_TO_LOCAL:
                        msg = (
                            f"{type(el).__name__}.{attr} asks for {url!r}, which has no local "
                            "copy. "
                            "Vendor the file under hotspots/static/vendor/ and add it to "
                            "hotspots.offline.CDN_TO_LOCAL."
                        )
                        raise UnmappedAssetError(msg)
                    url = prefix + CDN_TO_LOCAL[url]
                elif url.startswith(DEFAULT_PREFIX) and prefix != DEFAULT_PREFIX:
                    url = prefix + url[len(DEFAULT_PREFIX) :]
                new.append((name, url))
            setattr(el, attr, new)
    _set_icon_image_path(m, prefix + "leaflet/images/")
    return m


class _IconImagePath(MacroElement):
    """Sets ``L.Icon.Default.imagePath`` before any marker is created."""

    _template = Template(
        """{% macro script(this, kwargs) %}
L.Icon.Default.imagePath = {{ this.path|tojson }};
{% endmacro %}"""
    )

    def __init__(self, path: str) -> None:
        super().__init__()
        self._name = "IconImagePath"
        self.path = path


def _set_icon_image_path(m: folium.Map, path: str) -> None:
    m._children.pop(_IMAGE_PATH_NAME, None)
    m.add_child(_IconImagePath(path), name=_IMAGE_PATH_NAME)
    m._children.move_to_end(_IMAGE_PATH_NAME, last=False)


def escape_text(value: Any) -> str:
    """Make any value safe to show as text in HTML, including folium's JavaScript contexts.

    The package's one HTML escaper: map tooltips and popups (:mod:`hotspots.mapping`), the
    standalone map's footer and every value the briefing templates print
    (:mod:`hotspots.briefing`) go through it.

    ``html.escape`` (``& < > " '``), then the backtick as ``&#96;`` and the dollar sign as
    ``&#36;``: ``folium.Tooltip`` puts its text in a JavaScript template literal, where a backtick
    ends the literal (a syntax error that blanks the whole map) and ``${...}`` runs code. The
    browser shows the entities as the original characters.

    Parameters
    ----------
    value : object
        ``None`` becomes ``""`` and a float NaN (a missing number) ``"n/a"``; anything else is
        converted with ``str`` first.

    Returns
    -------
    str

    Examples
    --------
    >>> escape_text("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)&gt;'
    >>> escape_text("O`Brien St ${x}")
    'O&#96;Brien St &#36;{x}'
    >>> escape_text(None), escape_text(float("nan"))
    ('', 'n/a')
    """
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return html.escape(str(value), quote=True).replace("`", "&#96;").replace("$", "&#36;")


_SENTINEL = "hotspots-vendor:/"
_SCRIPT_LINK = re.compile(
    r'<script\b[^>]*\bsrc="' + re.escape(_SENTINEL) + r'([^"]+)"[^>]*>\s*</script>', re.IGNORECASE
)
_CSS_LINK = re.compile(
    r'<link\b[^>]*\bhref="' + re.escape(_SENTINEL) + r'([^"]+)"[^>]*/?>', re.IGNORECASE
)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
_SOURCE_MAP = re.compile(r"^[ \t]*(?://|/\*)# sourceMappingURL=[^\n]*$", re.MULTILINE)
_FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".eot", ".otf", ".svg")


def format_value(v: Any, spec: str = "", none: str = "n/a") -> str:
    """A value for people: ``format(v, spec)``, ``none`` for a missing one (None or NaN).

    The reports' ``fmt`` filter (:func:`report_environment`). A value ``spec`` cannot format
    (text given a number's spec) is printed with ``str``.

    Examples
    --------
    >>> format_value(0.12345, ".2f"), format_value(float("nan")), format_value("x", ".1f")
    ('0.12', 'n/a', 'x')
    """
    if v is None or (isinstance(v, float | np.floating) and math.isnan(v)):
        return none
    try:
        return format(v, spec)
    except (TypeError, ValueError):
        return str(v)


def _escape_once(value: Any) -> Markup:
    # Jinja's finalize: escape every printed value once; macro output is Markup already.
    return value if isinstance(value, Markup) else Markup(escape_text(value))


def report_environment(
    filters: Mapping[str, Callable[..., Any]] | None = None,
) -> jinja2.Environment:
    """The Jinja environment of the package's HTML reports (``hotspots/templates``).

    Autoescaped, with every printed value passed once through :func:`escape_text` (values the
    templates build themselves, macro output, are :class:`markupsafe.Markup` and pass unchanged),
    undefined names an error, block tags trimmed. The ``fmt`` filter is :func:`format_value`;
    ``filters`` adds a report's own.

    Parameters
    ----------
    filters : mapping of str to callable, optional
        Extra Jinja filters by name.

    Returns
    -------
    jinja2.Environment
        A new environment; callers cache their own.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hotspots", "templates"),
        autoescape=True,
        finalize=_escape_once,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = format_value
    env.filters.update(filters or {})
    return env


def standalone_html(m: folium.Map, params: dict | None = None, notice: str | None = None) -> str:
    """The map as one self-contained HTML page that opens offline.

    Every vendored script and stylesheet is inlined. Images a stylesheet refers to (Leaflet's layer
    control icons, the awesome-markers sprites) are inlined as ``data:`` URIs. Web fonts
    (FontAwesome, about 300 kB even as woff2) are dropped, their ``url()`` replaced by an empty
    ``data:`` URI: hotspots draws no icon markers, so nothing is lost and the page stays near
    0.6 MB. Tiles are not inlined: with ``tiles="none"`` the page makes no network request at all;
    with a tile server it asks that server for tiles, like the app does.

    The map is rendered with local asset links and restored afterwards, so the caller's map keeps
    whatever links it had. Render a fresh map for ``st_folium`` rather than one already passed to
    it: streamlit-folium renames element ids as it renders.

    Parameters
    ----------
    m : folium.Map
    params : dict, optional
        The run's parameter record (``HotspotResult.params``). Embedded as JSON in a
        ``<script type="application/json" id="hotspots-parameters">`` element (so the map, like
        every export, says how it was made) and summarised in a visible line at the foot of the
        page.
    notice : str, optional
        A line shown at the top of the page above the map, always visible (plain text, escaped):
        the notice a printed or shared map must carry.

    Returns
    -------
    str
        A complete HTML document.

    Raises
    ------
    UnmappedAssetError
        As :func:`localize`.
    """
    saved = [
        (el, attr, el.__dict__[attr])
        for el in walk(m)
        for attr in _ASSET_ATTRS
        if attr in el.__dict__
    ]
    old_image_path = m._children.get(_IMAGE_PATH_NAME)
    try:
        localize(m, prefix=_SENTINEL)
        # No default marker images in a standalone page: point Leaflet next to the file.
        _set_icon_image_path(m, "images/")
        page = m.get_root().render()
    finally:
        for el in walk(m):
            for attr in _ASSET_ATTRS:
                el.__dict__.pop(attr, None)
        for el, attr, value in saved:
            el.__dict__[attr] = value
        m._children.pop(_IMAGE_PATH_NAME, None)
        if old_image_path is not None:
            m._children[_IMAGE_PATH_NAME] = old_image_path
            m._children.move_to_end(_IMAGE_PATH_NAME, last=False)

    def script(match: re.Match[str]) -> str:
        code = _read_vendor(match.group(1)).decode("utf-8")
        code = _SOURCE_MAP.sub("", code)
        code = re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)
        return f"<script>/* {match.group(1)} */\n{code}\n</script>"

    def style(match: re.Match[str]) -> str:
        css = _inline_css_urls(match.group(1))
        css = _SOURCE_MAP.sub("", css)
        css = re.sub(r"</(style)", r"<\\/\1", css, flags=re.IGNORECASE)
        return f"<style>/* {match.group(1)} */\n{css}\n</style>"

    page = _SCRIPT_LINK.sub(script, page)
    page = _CSS_LINK.sub(style, page)
    if _SENTINEL in page:  # pragma: no cover - a link written in a form the regexes do not know
        msg = "A vendored asset link could not be inlined into the standalone map."
        raise RuntimeError(msg)
    if params is not None:
        page = _embed_params(page, params)
    if notice:
        banner = (
            # beside the zoom buttons, clear of the layer switcher on the right
            '<div role="note" style="position:fixed;top:10px;left:56px;max-width:40%;'
            "z-index:1001;background:#fff8e1;border:1px solid #c9a227;font:13px sans-serif;"
            f'padding:3px 8px">{escape_text(notice)}</div>\n'
        )
        page = (
            page.replace("</body>", banner + "</body>", 1) if "</body>" in page else page + banner
        )
    return page


#: Height of the standalone map's foot line, in CSS pixels (11 px text and its padding).
FOOTER_PX = 18


def _embed_params(page: str, params: dict) -> str:
    """Add the parameter record (JSON, safe inside a script element) and a visible summary line."""
    import json

    from hotspots.jsonutil import to_jsonable

    data = json.dumps(to_jsonable(params), ensure_ascii=True, allow_nan=False, sort_keys=True)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    method = escape_text(str(params.get("method", "")))
    period = params.get("data_period") or []
    period_text = escape_text(" to ".join(str(p) for p in period)) if period else ""
    synthetic = " SYNTHETIC DEMO DATA." if params.get("synthetic") else ""
    # One line along the foot of the page (cut with an ellipsis, the full text in its title), and
    # Leaflet's bottom corners (the scale bar, the attribution) lifted above it, not covered.
    line = (
        f"hotspots {escape_text(str(params.get('version', '')))}: method {method}"
        + (f", data {period_text}" if period_text else "")
        + f". Parameters are embedded in this file (id hotspots-parameters).{synthetic}"
    )
    foot = (
        f"<style>.leaflet-bottom{{bottom:{FOOTER_PX}px}}</style>\n"
        '<div style="position:fixed;bottom:0;left:0;right:0;z-index:1000;'
        f"height:{FOOTER_PX}px;line-height:{FOOTER_PX}px;box-sizing:border-box;white-space:nowrap;"
        "overflow:hidden;text-overflow:ellipsis;background:rgba(255,255,255,.85);"
        f'font:11px sans-serif;padding:0 6px" title="{line}">{line}</div>'
    )
    block = f'<script type="application/json" id="hotspots-parameters">{data}</script>\n{foot}\n'
    return page.replace("</body>", block + "</body>", 1) if "</body>" in page else page + block


def _read_vendor(rel: str) -> bytes:
    path = (VENDOR_DIR / rel).resolve()
    if VENDOR_DIR.resolve() not in path.parents:
        msg = f"Asset path {rel!r} leaves hotspots/static/vendor/."
        raise UnmappedAssetError(msg)
    return path.read_bytes()


def _inline_css_urls(rel: str) -> str:
    css = _read_vendor(rel).decode("utf-8")
    base = Path(rel).parent

    def replace(match: re.Match[str]) -> str:
        url = match.group(2).strip()
        if url.startswith(("data:", "#")) or _WEB_URL.match(url):
            return match.group(0)
        clean = url.split("?")[0].split("#")[0]
        if clean.lower().endswith(_FONT_SUFFIXES):
            return 'url("data:,")'
        target = (base / clean).as_posix()
        try:
            data = _read_vendor(target)
        except (OSError, UnmappedAssetError):
            return 'url("data:,")'
        mime = mimetypes.guess_type(clean)[0] or "application/octet-stream"
        return f'url("data:{mime};base64,{base64.b64encode(data).decode("ascii")}")'

    return _CSS_URL.sub(replace, css)
