"""Read a dataset's CSV tables and vector files, with row and column errors.

CSV files arrive from spreadsheets and district offices in UTF-8, UTF-8 with a
byte-order mark, Windows-1258 (the Vietnamese Windows code page, which writes
tone marks as separate combining characters) or UTF-16, separated by commas or
semicolons.  :func:`read_table` reads any of these into a frame of strings and
leaves conversion to the caller, which uses :func:`parse_number` and
:func:`parse_yes_no` so that a bad cell is reported as
``file: row N, column 'x': problem``.

Rows are numbered as a spreadsheet user sees the data: the first row after the
header is row 1.  Vector features are numbered from 1 in file order.  The
frames returned here carry those numbers as their index.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import logging
import math
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.errors
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError
from shapely.geometry import shape

from covgap.data.repair import POLYGON_TYPES, repair_polygon
from covgap.data.text import nfc, parse_bool
from covgap.errors import (
    CRSError,
    DatasetError,
    DatasetNotFoundError,
    EncodingError,
    GeometryError,
    MissingColumnError,
    ValueParseError,
)

__all__ = [
    "LINE_TYPES",
    "POINT_TYPES",
    "POLYGON_TYPES",
    "REQUIRED_BLANK",
    "decode_text",
    "find_column",
    "parse_code",
    "parse_number",
    "parse_yes_no",
    "read_bytes",
    "read_table",
    "read_vector",
]

log = logging.getLogger(__name__)

LINE_TYPES = ("LineString", "MultiLineString")
POINT_TYPES = ("Point",)

_SEPARATORS = (",", ";", "\t")
_GEOJSON_SUFFIXES = (".geojson", ".json")
REQUIRED_BLANK = "empty value in a required column; fill it in or delete the row"
"""Message for a blank cell where a value is required."""
_SHAPEFILE_NAME_LENGTH = 10  # dBASE truncates field names to 10 characters


def read_bytes(path: str | Path) -> bytes:
    """Return a file's content, turning every way of failing into a :class:`DatasetError`.

    Raises
    ------
    DatasetNotFoundError
        If the file does not exist.
    DatasetError
        If the path is a folder or the file cannot be read (permissions, I/O).
    """
    path = Path(path)
    if path.is_dir():
        raise DatasetError("is a folder, expected a file", path=path)
    if not path.is_file():
        raise DatasetNotFoundError("file not found", path=path)
    try:
        return path.read_bytes()
    except PermissionError:
        raise DatasetError(
            "cannot read the file: permission denied (check its permissions, or close it in Excel)",
            path=path,
        ) from None
    except OSError as exc:
        raise DatasetError(f"cannot read the file: {exc.strerror or exc}", path=path) from None


# --------------------------------------------------------------------------- text


def decode_text(data: bytes, path: str | Path) -> tuple[str, str]:
    """Decode a text file's bytes, detecting the encoding.

    UTF-16 and UTF-8 are recognised by their byte-order marks; otherwise the
    bytes are tried as UTF-8 and then as Windows-1258.  The text is returned in
    Unicode NFC (Windows-1258 stores tones as combining marks).

    Parameters
    ----------
    data
        The file's content.
    path
        The file, for error messages.

    Returns
    -------
    tuple of str
        The decoded text and the name of the encoding used.

    Raises
    ------
    EncodingError
        If the bytes are in none of the supported encodings.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    elif data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif b"\x00" in data:
        candidates = _utf16_without_bom(data)
        if not candidates:
            raise EncodingError(
                "the file contains NUL bytes: it is not a text (CSV/GeoJSON) file; "
                "save it as CSV UTF-8",
                path=path,
            )
    else:
        candidates = ["utf-8", "cp1258"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            continue
        return unicodedata.normalize("NFC", text), encoding
    raise EncodingError(
        "cannot decode the file as UTF-8, UTF-8 with BOM, UTF-16 or Windows-1258; save it as UTF-8",
        path=path,
    )


def _utf16_without_bom(data: bytes) -> list[str]:
    """Guess UTF-16 without a byte-order mark from where the NUL bytes fall."""
    head = data[:4096]
    if len(head) < 2:
        return []
    even = head[0::2].count(0)
    odd = head[1::2].count(0)
    half = len(head) // 2
    if odd > 0.3 * half and even < 0.05 * half:
        return ["utf-16-le"]
    if even > 0.3 * half and odd < 0.05 * half:
        return ["utf-16-be"]
    return []


def _sniff_separator(header_line: str) -> str:
    """Return the separator used in the header line (comma by default)."""
    counts = {sep: 0 for sep in _SEPARATORS}
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_SEPARATORS, key=lambda sep: (counts[sep], sep == ","))
    return best if counts[best] > 0 else ","


def _clean_header(name: str) -> str:
    return nfc(name.replace("\ufeff", ""))


def find_column(
    available: Iterable[str], wanted: str, *, path: str | Path, required: bool = True
) -> str | None:
    """Find ``wanted`` among ``available`` column names, ignoring case.

    Parameters
    ----------
    available
        Column names present in the file.
    wanted
        The canonical column name.
    path
        The file, for the error message.
    required
        Whether an absent column is an error.

    Returns
    -------
    str or None
        The name as spelled in the file, or ``None`` if absent and optional.

    Raises
    ------
    MissingColumnError
        If the column is required and absent; the message suggests the closest
        existing name.
    """
    names = list(available)
    for name in names:
        if name.casefold() == wanted.casefold():
            return name
    if len(wanted) > _SHAPEFILE_NAME_LENGTH:
        # a shapefile's dBASE table truncates field names: commune_code -> commune_co
        for name in names:
            if name.casefold() == wanted[:_SHAPEFILE_NAME_LENGTH].casefold():
                return name
    if not required:
        return None
    raise _missing_column(names, wanted, path)


def _missing_column(names: Sequence[str], wanted: str, path: str | Path) -> MissingColumnError:
    lowered = {name.casefold(): name for name in names}
    close = difflib.get_close_matches(wanted.casefold(), list(lowered), n=1, cutoff=0.6)
    found = ", ".join(repr(n) for n in names) if names else "none"
    hint = f"; did you mean {lowered[close[0]]!r}?" if close else ""
    return MissingColumnError(
        f"missing required column {wanted!r} (columns found: {found}){hint}",
        path=path,
        column=wanted,
    )


def _canonical_columns(
    names: Sequence[str], required: Sequence[str], optional: Sequence[str], path: str | Path
) -> dict[str, str]:
    """Map the file's names of known columns to their canonical spelling."""
    rename: dict[str, str] = {}
    for wanted in required:
        found = find_column(names, wanted, path=path, required=True)
        assert found is not None
        rename[found] = wanted
    for wanted in optional:
        found = find_column(names, wanted, path=path, required=False)
        if found is not None and found not in rename:
            rename[found] = wanted
    return rename


def read_table(
    path: str | Path,
    required: Sequence[str] = (),
    optional: Sequence[str] = (),
    *,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a CSV file into a frame of strings indexed by data-row number.

    Parameters
    ----------
    path
        The CSV file (UTF-8, UTF-8 with BOM, UTF-16 with BOM or Windows-1258;
        comma, semicolon or tab separated).
    required
        Columns that must be present (matched ignoring case, renamed to this
        spelling).
    optional
        Columns that may be present (matched and renamed likewise).
    names
        Column names for a file without a header row; rows are then numbered
        from the first line.

    Returns
    -------
    pandas.DataFrame
        One row per data row, every cell a stripped NFC string (blank cells are
        ``""``), index named ``row`` holding the 1-based data-row number.  Blank
        lines are skipped but still counted, so numbers match a spreadsheet.

    Raises
    ------
    DatasetNotFoundError
        If the file does not exist.
    DatasetError
        If the file is empty, has duplicate column names or a row with more
        non-blank cells than there are columns.
    MissingColumnError
        If a required column is absent.
    EncodingError
        If the file's encoding is not supported.
    """
    path = Path(path)
    text, encoding = decode_text(read_bytes(path), path)
    if not text.strip():
        raise DatasetError("the file is empty (expected a header row and data rows)", path=path)
    text = text.lstrip("\r\n")
    first_line = text.splitlines()[0]
    excel_hint = re.fullmatch(r'"?sep=(.)"?\s*', first_line)
    if excel_hint and names is None:
        # Excel's "sep=;" first line names the separator; the header follows it.
        separator = excel_hint.group(1)
        text = text[len(first_line) :].lstrip("\r\n")
        if not text.strip():
            raise DatasetError("the file has no header row after 'sep='", path=path)
    else:
        separator = _sniff_separator(first_line)
    records = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        all_records = list(records)
    except csv.Error as exc:
        raise DatasetError(f"not a readable CSV file: {exc}", path=path) from exc
    if names is None:
        # The header is the first non-blank record.
        while all_records and not any(cell.strip() for cell in all_records[0]):
            all_records.pop(0)
        if not all_records:
            raise DatasetError("the file has no header row (every line is blank)", path=path)
        header = [_clean_header(cell) for cell in all_records[0]]
        body = all_records[1:]
        while header and header[-1] == "":
            header.pop()
        if not header:
            raise DatasetError("the header row has no column names", path=path)
        if any(name == "" for name in header):
            column = header.index("") + 1
            raise DatasetError(f"column {column} of the header row has no name", path=path)
    else:
        header = list(names)
        body = all_records
    seen: set[str] = set()
    for name in header:
        if name.casefold() in seen:
            raise DatasetError(f"column {name!r} appears more than once in the header", path=path)
        seen.add(name.casefold())

    rows: list[list[str]] = []
    numbers: list[int] = []
    width = len(header)
    for number, record in enumerate(body, start=1):
        cells = [nfc(cell) for cell in record]
        if not any(cells):
            continue
        if len(cells) > width:
            extra = [c for c in cells[width:] if c]
            if extra:
                raise DatasetError(
                    f"{len(cells)} cells but the header has {width} columns "
                    f"(separator {separator!r}); check for unquoted separators in values",
                    path=path,
                    row=number,
                )
            cells = cells[:width]
        elif len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        rows.append(cells)
        numbers.append(number)

    rename = _canonical_columns(header, required, optional, path)
    frame = pd.DataFrame(rows, columns=header, index=pd.Index(numbers, name="row"), dtype=object)
    frame = frame.rename(columns=rename)
    log.debug("read %s: %d rows, encoding %s, separator %r", path, len(frame), encoding, separator)
    return frame


# -------------------------------------------------------------------- cell values

_NUMBER_SPACES = re.compile(r"[\s\u00a0\u202f]")


def parse_number(
    value: Any,
    *,
    path: str | Path,
    row: int | None,
    column: str,
    minimum: float | None = None,
    integer: bool = False,
    blank: float | None = math.nan,
) -> float:
    """Convert one cell to a number, accepting a decimal comma.

    ``"12,5"`` reads as 12.5; when both ``.`` and ``,`` appear the last one is
    the decimal mark and the other groups thousands (``"1.234,5"``).  Spaces
    are ignored.

    Parameters
    ----------
    value
        The cell (string, number or ``None``).
    path, row, column
        Where the cell is, for the error message.
    minimum
        Smallest accepted value, if any.
    integer
        Whether the value must be a whole number.
    blank
        Value returned for a blank cell; ``None`` makes a blank cell an error.

    Returns
    -------
    float
        The number (``blank`` for an empty cell).

    Raises
    ------
    ValueParseError
        If the cell is not a number or breaks the constraints.
    """
    kind = "a whole number" if integer else "a number"
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        number = math.nan
        text = ""
    elif isinstance(value, bool):
        raise ValueParseError(f"expected {kind}, got {value!r}", path=path, row=row, column=column)
    elif isinstance(value, (int, float)):
        number = float(value)
        text = str(value)
    else:
        text = _NUMBER_SPACES.sub("", str(value))
        if text == "":
            number = math.nan
        else:
            if "," in text and "." in text:
                if text.rfind(",") > text.rfind("."):
                    text = text.replace(".", "").replace(",", ".")
                else:
                    text = text.replace(",", "")
            elif text.count(",") == 1:
                text = text.replace(",", ".")
            try:
                number = float(text)
            except ValueError:
                raise ValueParseError(
                    f"expected {kind}, got {value!r}", path=path, row=row, column=column
                ) from None
    if math.isnan(number):
        if text not in ("", "nan", "NaN") or blank is None:
            raise ValueParseError(
                f"expected {kind}, got a blank cell" if text == "" else f"expected {kind}",
                path=path,
                row=row,
                column=column,
            )
        return blank
    if math.isinf(number):
        raise ValueParseError(
            f"expected a finite number, got {value!r}", path=path, row=row, column=column
        )
    if integer and not number.is_integer():
        raise ValueParseError(f"expected {kind}, got {value!r}", path=path, row=row, column=column)
    if minimum is not None and number < minimum:
        raise ValueParseError(
            f"expected a value >= {minimum:g}, got {value!r}", path=path, row=row, column=column
        )
    return number


def parse_yes_no(value: Any, *, path: str | Path, row: int | None, column: str) -> bool | None:
    """Convert one yes/no cell with :func:`covgap.data.text.parse_bool`.

    Returns ``None`` for a blank cell.

    Raises
    ------
    ValueParseError
        If the cell is not a recognised yes/no word.
    """
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise ValueParseError(str(exc), path=path, row=row, column=column) from None


def parse_code(value: Any) -> str:
    """Return an identifier cell as text.

    Numbers stored as floats (``3021301.0``) lose their ``.0``; blanks give ``""``.
    """
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    return nfc(str(value))


# -------------------------------------------------------------------------- vector


def _declared_crs(document: dict[str, Any], path: Path) -> CRS | None:
    """Return the CRS named by a GeoJSON 2008 ``crs`` member, if any."""
    member = document.get("crs")
    if member is None:
        return None
    try:
        props = member.get("properties", {}) if isinstance(member, dict) else {}
        if member.get("type") == "name":
            value: Any = props["name"]
        elif str(member.get("type", "")).upper() == "EPSG":
            value = f"EPSG:{props['code']}"
        else:
            raise KeyError("type")
        return CRS.from_user_input(value)
    except (KeyError, AttributeError, TypeError, PyprojCRSError) as exc:
        raise CRSError(f"{path}: cannot understand the file's crs member {member!r}") from exc


def _looks_like_degrees(bounds: Sequence[float]) -> bool:
    minx, miny, maxx, maxy = bounds
    return -180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0


def _read_geojson(path: Path) -> tuple[list[dict[str, Any]], list[Any], CRS | None]:
    """Parse a GeoJSON file into property dicts, geometries (or None) and its CRS."""
    data = read_bytes(path)
    if data.startswith(b"PK\x03\x04"):
        raise DatasetError(
            "is a ZIP archive, not GeoJSON: rename it to .zip (a zipped shapefile is read) "
            "or extract it and export the layer as GeoJSON",
            path=path,
        )
    if data.startswith(b"\x00\x00\x27\x0a"):
        raise DatasetError(
            "is an ESRI shapefile (.shp), not GeoJSON: give it its .shp name (with its "
            ".dbf, .shx and .prj beside it) or export the layer as GeoJSON",
            path=path,
        )
    text, _ = decode_text(data, path)
    if not text.strip():
        raise DatasetError("the file is empty (expected a GeoJSON FeatureCollection)", path=path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "re-export the layer as GeoJSON",
            path=path,
        ) from None
    except RecursionError:
        raise DatasetError("not valid GeoJSON (nested too deeply)", path=path) from None
    if not isinstance(document, dict):
        raise DatasetError("expected a GeoJSON FeatureCollection", path=path)
    if document.get("type") == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise DatasetError("the FeatureCollection has no 'features' list", path=path)
    elif document.get("type") == "Feature":
        features = [document]
    else:
        raise DatasetError(
            f"expected a GeoJSON FeatureCollection, got type {document.get('type')!r}", path=path
        )
    props: list[dict[str, Any]] = []
    geoms: list[Any] = []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise GeometryError("expected a GeoJSON Feature", path=path, row=number)
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            raise DatasetError("'properties' is not an object", path=path, row=number)
        props.append({_clean_header(str(k)): v for k, v in properties.items()})
        geometry = feature.get("geometry")
        if geometry is None:
            geoms.append(None)
            continue
        try:
            geom = shape(geometry)
            finite = bool(np.isfinite(shapely.get_coordinates(geom)).all())
        except (
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
            IndexError,
            RecursionError,
            shapely.errors.ShapelyError,
        ) as exc:
            raise GeometryError(
                f"unreadable geometry ({exc})", path=path, row=number, column="geometry"
            ) from None
        if not finite:
            raise GeometryError(
                "the geometry has a coordinate that is not a finite number",
                path=path,
                row=number,
                column="geometry",
            )
        geoms.append(geom)
    return props, geoms, _declared_crs(document, path)


def read_vector(
    path: str | Path,
    geometry_types: Sequence[str] = POLYGON_TYPES,
    required: Sequence[str] = (),
    optional: Sequence[str] = (),
    default_crs: CRS | str | int | None = None,
    *,
    notes: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector file and validate its features.

    Three stages: read the features (:func:`_read_features`: GeoJSON is parsed
    directly so that feature numbers, property values and the presence of a
    ``crs`` member are exact; other formats go through pyogrio), check their
    geometries (:func:`_check_geometries`), then resolve the CRS and check the
    coordinates fit it (:func:`_resolve_crs`).

    CRS rules: a CRS declared in the file is honoured.  A GeoJSON file without
    one is in ``default_crs`` (the dataset's ``crs`` setting) if given, else in
    WGS 84 longitude/latitude as RFC 7946 prescribes.  Coordinates outside the
    degree range under a geographic CRS are an error; degree-like coordinates
    under a projected default CRS give a warning.

    Parameters
    ----------
    path
        The file.
    geometry_types
        Accepted geometry types, e.g. ``("Polygon", "MultiPolygon")``.
    required, optional
        Property names (matched ignoring case, renamed to this spelling).
    default_crs
        CRS for a file that declares none.
    notes
        List that receives warnings (also logged).

    Returns
    -------
    geopandas.GeoDataFrame
        Properties and geometry, index named ``feature`` holding 1-based
        feature numbers.  Invalid polygons are repaired with
        :func:`shapely.make_valid` and reported in ``notes``.

    Raises
    ------
    DatasetNotFoundError
        If the file does not exist.
    GeometryError
        For a null, empty, unreadable or wrongly typed geometry (with its
        feature number).
    MissingColumnError
        If a required property is absent.
    CRSError
        If the CRS is unknown or cannot fit the coordinates.
    """
    path = Path(path)
    if path.is_dir():
        raise DatasetError("is a folder, expected a file", path=path)
    if not path.is_file():
        raise DatasetNotFoundError("file not found", path=path)
    note = _notifier(notes)
    frame, geoms, declared = _read_features(path, note)
    fixed = _check_geometries(geoms, geometry_types, path, note)
    frame = frame.rename(columns=_canonical_columns(list(frame.columns), required, optional, path))
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(fixed, index=frame.index), crs=None)
    bounds = tuple(gdf.total_bounds) if len(gdf) else None
    return gdf.set_crs(_resolve_crs(declared, bounds, default_crs, path, note))


def _notifier(notes: list[str] | None) -> Callable[[str], None]:
    """Return ``note(message)``: collect a warning in ``notes``, else log it loudly."""

    def note(message: str) -> None:
        # Collected warnings reach the user through Dataset.problems; log them
        # loudly only when nobody collects them.
        log.log(logging.INFO if notes is not None else logging.WARNING, "%s", message)
        if notes is not None:
            notes.append(message)

    return note


def _read_features(
    path: Path, note: Callable[[str], None]
) -> tuple[pd.DataFrame, list[Any], CRS | None]:
    """Read a vector file: its properties, geometries (or None) and declared CRS.

    The properties frame has object columns and the 1-based feature numbers as
    index (named ``feature``). GeoJSON is parsed directly, so that feature
    numbers, property values and the presence of a ``crs`` member are exact;
    other formats go through pyogrio, whose warnings are passed to ``note``.
    """
    if path.suffix.lower() in _GEOJSON_SUFFIXES:
        props, geoms, crs = _read_geojson(path)
        columns: list[str] = []
        for p in props:
            for key in p:
                if key not in columns:
                    columns.append(key)
        frame = pd.DataFrame(
            [[p.get(c) for c in columns] for p in props], columns=columns, dtype=object
        )
    else:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                raw = gpd.read_file(path, engine="pyogrio")
        except Exception as exc:  # pyogrio raises several types
            raise DatasetError(
                f"cannot read the file: {exc}; export the layer as GeoJSON", path=path
            ) from None
        for warning in caught:
            note(f"{path}: {warning.message}")
        if not isinstance(raw, gpd.GeoDataFrame) or raw.geometry.name not in raw.columns:
            raise DatasetError("the file has no geometry column", path=path)
        crs = raw.crs
        geoms = list(raw.geometry)
        frame = pd.DataFrame(raw.drop(columns=raw.geometry.name)).astype(object)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="feature")
    return frame, geoms, crs


def _check_geometries(
    geoms: Sequence[Any],
    geometry_types: Sequence[str],
    path: Path,
    note: Callable[[str], None],
) -> list[Any]:
    """Check each feature's geometry (present, non-empty, of a wanted type).

    Invalid polygons are repaired with :func:`shapely.make_valid` and reported
    through ``note``; a :class:`GeometryError` names the first bad feature.
    """
    wanted = set(geometry_types)
    fixed: list[Any] = []
    for number, geom in enumerate(geoms, start=1):
        if geom is None:
            raise GeometryError("the feature has no geometry", path=path, row=number)
        if geom.is_empty:
            raise GeometryError("the geometry is empty", path=path, row=number)
        if geom.geom_type not in wanted:
            raise GeometryError(
                f"expected {' or '.join(geometry_types)}, got {geom.geom_type}",
                path=path,
                row=number,
            )
        if geom.geom_type in POLYGON_TYPES and not geom.is_valid:
            repaired, reason = repair_polygon(geom)
            if repaired.is_empty:
                raise GeometryError(
                    f"invalid polygon ({reason}) that cannot be repaired", path=path, row=number
                )
            note(f"{path}: feature {number}: invalid polygon ({reason}) repaired")
            geom = repaired
        fixed.append(geom)
    return fixed


def _resolve_crs(
    declared: CRS | None,
    bounds: Sequence[float] | None,
    default_crs: CRS | str | int | None,
    path: Path,
    note: Callable[[str], None],
) -> CRS:
    """Return the layer's CRS and check that its coordinates fit it.

    A declared CRS is honoured; without one the layer is in ``default_crs`` if
    given, else WGS 84 longitude/latitude (RFC 7946). ``bounds`` (``None`` for
    an empty layer) must be degrees under a geographic CRS, and must not look
    like degrees under a declared projected one (a note for a default one).
    """
    crs = declared
    if crs is None:
        if default_crs is not None:
            try:
                crs = CRS.from_user_input(default_crs)
            except PyprojCRSError as exc:
                raise CRSError(f"unknown CRS {default_crs!r}: {exc}") from None
            origin = "the dataset's crs setting"
        else:
            crs = CRS.from_epsg(4326)
            origin = "WGS 84 longitude/latitude (GeoJSON default, RFC 7946)"
        log.debug("%s declares no CRS; using %s", path, origin)
        if crs.is_projected and bounds is not None and _looks_like_degrees(bounds):
            note(
                f"{path}: declares no CRS and is read in {crs.to_string()} ({origin}), "
                "but its coordinates look like degrees"
            )
    elif crs.is_projected and bounds is not None and _looks_like_degrees(bounds):
        raise CRSError(
            f"{path}: coordinates (x {bounds[0]:g}..{bounds[2]:g}, y {bounds[1]:g}..{bounds[3]:g}) "
            f"look like longitude/latitude degrees but the file declares {crs.to_string()} "
            f"({crs.name}), in metres; remove the file's crs member or reproject the layer"
        )
    if crs.is_geographic and bounds is not None and not _looks_like_degrees(bounds):
        minx, miny, maxx, maxy = bounds
        if _looks_like_degrees((miny, minx, maxy, maxx)):
            raise CRSError(
                f"{path}: coordinates (x {minx:g}..{maxx:g}, y {miny:g}..{maxy:g}) are not "
                "longitude/latitude: lat and lon look swapped (GeoJSON wants [lon, lat]); "
                "re-export the layer with longitude first"
            )
        raise CRSError(
            f"{path}: coordinates (e.g. x up to {maxx:.0f}) are not longitude/latitude "
            f"degrees but the file's CRS is {crs.name}; declare the CRS in the file "
            "or set crs in dataset.toml" + _projected_hint(bounds)
        )
    return crs


def _projected_hint(bounds: Sequence[float]) -> str:
    """Suggest CRSs for metre coordinates that look like UTM in Vietnam."""
    minx, miny, maxx, maxy = bounds
    if 100_000 <= minx <= maxx <= 900_000 and 800_000 <= miny <= maxy <= 2_700_000:
        return (
            " (these look like UTM metres in Vietnam: EPSG:32648 for WGS 84 / UTM 48N, "
            "EPSG:3405 for VN-2000 / UTM 48N, or a VN-2000 TM-3 zone such as EPSG:9205)"
        )
    return ""
