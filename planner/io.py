"""Import and export of stations and analysis layers: GeoJSON, CSV, GeoPackage.

Formats (chosen by the file suffix, or ``fmt=``):

* **GeoJSON** (``.geojson``, ``.json``): a FeatureCollection of Point features in WGS-84
  (RFC 7946); properties keep the record's nested objects (``amenities``, ``charging``,
  ``field_status``). :func:`read_stations` also accepts a plain JSON list of records
  (the output of ``python -m planner stations --json``).
* **CSV** (``.csv``): one row per station, ``lon``/``lat`` columns, UTF-8 with a BOM so
  Excel shows Chinese correctly; nested fields are flattened (see below).
* **GeoPackage** (``.gpkg``): layer ``stations``, EPSG:4326 points, flattened columns with
  proper types (booleans, integers, reals); opens in QGIS.

Flattened columns: ``amenity_<key>`` (true/false) for every amenity; ``charging_bays`` as
``"COUNTxKW;COUNTxKW"`` (e.g. ``"18x1440;108x600"``), ``charging_total_kw``,
``charging_max_power_kw``, ``charging_swap``; ``field_status_<field>`` for each labelled
field. Everything else keeps its record name.

Reading validates every record with :func:`planner.stations.validate_many` and raises
one :class:`~planner.errors.InputError` naming each bad row (CSV; row 1 is the header, as in
Excel) or feature (GeoJSON/GeoPackage, from 1) and field, in English (``fields``) and
Chinese (``fields_zh``). Writes go to a temporary file
that replaces the target only when complete. :func:`read_station_changes` reads a file
whose rows carry only some columns (``python -m planner import`` updates just those).

Spreadsheet formulas: every CSV this module writes passes text cells through
:func:`neutralise_cell` (OWASP "CSV Injection"): a cell starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return (or the full-width ``＝＋－＠``) gets a leading ``'``, so
Excel/WPS/LibreOffice show it as text instead of running it. Reading a CSV removes that
one quote again, so an export imports back unchanged.
"""

from __future__ import annotations

import contextlib
import csv
import io as _io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from planner._validate import is_number
from planner.coords import check_coord_system
from planner.errors import InputError
from planner.settings import WGS84
from planner.stations import (
    AMENITIES,
    FIELDS,
    FIELD_STATUS_EXTRA_KEYS,
    Problems,
    record_to_wgs84,
    validate_many,
    validate_station,
)

FORMATS: dict[str, str] = {".geojson": "geojson", ".json": "geojson", ".csv": "csv", ".gpkg": "gpkg"}
#: Layer name of stations in a GeoPackage.
STATIONS_LAYER = "stations"
#: CSV columns a station file must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("id", "name", "lon", "lat", "kind", "hours", "data_status", "source")

_FLOAT_FIELDS = ("lon", "lat", "charging_total_kw", "charging_max_power_kw")
_INT_FIELDS = ("parking_bays", "daily_trucks", "coord_precision_m", "version")
_BOOL_FIELDS = ("charging_swap",)
_TRUE = {"true", "1", "yes", "y", "t", "是", "有", "✓"}
_FALSE = {"false", "0", "no", "n", "f", "否", "无", ""}
_BAY_RE = re.compile(r"^\s*(\d+)\s*[x×*]\s*(\d+(?:\.\d+)?)\s*$", re.IGNORECASE)
_FIELD_STATUS_KEYS = FIELDS + FIELD_STATUS_EXTRA_KEYS


#: First characters that make a spreadsheet read a cell as a formula (OWASP), with the
#: full-width forms that Chinese input methods produce (WPS and Excel accept ``＝`` too).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


# ---------------------------------------------------------------------- helpers
def neutralise_cell(value: Any) -> Any:
    """A text cell safe for spreadsheets: ``'`` before a leading formula character.

    Non-text values (numbers, booleans, None) are returned as they are: a number cell is
    never a formula, and ``-3.5`` must stay a number.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def restore_cell(value: Any) -> Any:
    """Undo :func:`neutralise_cell` on a cell read from a CSV."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def _format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        name = str(fmt).lower().lstrip(".")
        if name in ("geojson", "json", "csv", "gpkg"):
            return "geojson" if name == "json" else name
        raise InputError(f"unknown format {fmt!r}; use geojson, csv or gpkg",
                         fields={"fmt": "must be geojson, csv or gpkg"})
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"cannot tell the format of {path.name!r} from its suffix; use .geojson, .json, .csv or .gpkg "
            "(or pass fmt=)", fields={"path": "suffix must be .geojson, .json, .csv or .gpkg"})
    return FORMATS[suffix]


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # GDAL drivers want to create the file themselves
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        for leftover in (tmp_path, *tmp_path.parent.glob(tmp_path.name + "-*")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        return value is pd.NA or (not isinstance(value, (str, bytes, list, dict, tuple)) and bool(pd.isna(value)))
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    """numpy/pandas scalars -> Python; NaN/NA -> None."""
    if _missing(value):
        return None
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        return value.item()
    return value


# ---------------------------------------------------------------------- flatten
def _bays_text(bays: Iterable[Mapping[str, Any]]) -> str:
    return ";".join(f"{b['count']}x{b['power_kw']:g}" for b in bays)


def flatten_station(record: Mapping[str, Any], *, lonlat: bool = True) -> dict:
    """A station as flat columns (CSV/GeoPackage); ``lonlat=False`` leaves out lon/lat."""
    row: dict[str, Any] = {}
    field_status = record.get("field_status") or {}
    for field in FIELDS:
        if field in ("lon", "lat") and not lonlat:
            continue
        if field == "amenities":
            for key in AMENITIES:
                row[f"amenity_{key}"] = bool(record["amenities"].get(key, False))
        elif field == "charging":
            charging = record["charging"]
            row["charging_bays"] = _bays_text(charging.get("bays", []))
            row["charging_total_kw"] = float(charging.get("total_kw", 0.0))
            row["charging_max_power_kw"] = float(charging.get("max_power_kw", 0.0))
            row["charging_swap"] = bool(charging.get("swap", False))
        elif field == "field_status":
            for key in _FIELD_STATUS_KEYS:
                if key in field_status:
                    row[f"field_status_{key}"] = field_status[key]
        else:
            row[field] = record.get(field)
    if "version" in record:
        row["version"] = record["version"]
    return row


def _columns(rows: list[dict]) -> list[str]:
    """Union of row keys in a stable order (field_status columns where they belong)."""
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    order = {name: i for i, name in enumerate(_column_order())}
    return sorted(columns, key=lambda c: order.get(c, len(order)))


def _column_order() -> list[str]:
    names = []
    for field in FIELDS:
        if field == "amenities":
            names += [f"amenity_{k}" for k in AMENITIES]
        elif field == "charging":
            names += ["charging_bays", "charging_total_kw", "charging_max_power_kw", "charging_swap"]
        elif field == "field_status":
            names += [f"field_status_{k}" for k in _FIELD_STATUS_KEYS]
        else:
            names.append(field)
    return names + ["version"]


def _known_column(name: str) -> bool:
    return name in _column_order() or name in ("amenities", "charging", "field_status")


def _coerce(name: str, value: Any) -> Any:
    """Parse text cells by column type; unparseable text is kept for the validator to report."""
    value = restore_cell(_plain(value))
    if not isinstance(value, str):
        return value
    text = value.strip()
    if name.startswith("amenity_") or name in _BOOL_FIELDS:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        return value
    if text == "":
        return None
    if name in _FLOAT_FIELDS:
        try:
            return float(text)
        except ValueError:
            return value
    if name in _INT_FIELDS:
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    return text


def _parse_bays(text: Any) -> Any:
    if text is None:
        return []
    if not isinstance(text, str):
        return text  # reported by the validator
    if not text.strip():
        return []
    if text.strip().startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    bays = []
    for part in text.split(";"):
        if not part.strip():
            continue
        match = _BAY_RE.match(part)
        if not match:
            return text
        bays.append({"count": int(match.group(1)), "power_kw": float(match.group(2))})
    return bays


def unflatten_station(props: Mapping[str, Any]) -> dict:
    """Turn flat columns (or nested properties, or a mix) back into a station record.

    Unknown columns are kept under their own name so validation reports them.
    """
    record: dict[str, Any] = {}
    amenities: dict[str, Any] = {}
    charging: dict[str, Any] = {}
    field_status: dict[str, Any] = {}
    for name, raw in props.items():
        value = _coerce(name, raw)
        if name.startswith("amenity_"):
            amenities[name[len("amenity_"):]] = False if value is None else value
        elif name == "charging_bays":
            charging["bays"] = _parse_bays(value)
        elif name in ("charging_total_kw", "charging_max_power_kw", "charging_swap"):
            if value is not None:
                charging[name[len("charging_"):]] = value
        elif name.startswith("field_status_"):
            if value is not None:
                field_status[name[len("field_status_"):]] = value
        elif name in ("amenities", "charging", "field_status"):
            if isinstance(value, str):  # nested objects saved as JSON text (e.g. by QGIS)
                with contextlib.suppress(json.JSONDecodeError):
                    value = json.loads(value)
            record[name] = value
        else:
            record[name] = value
    if amenities:
        base = record.get("amenities") if isinstance(record.get("amenities"), Mapping) else {}
        record["amenities"] = {**base, **amenities}
    if charging:
        base = record.get("charging") if isinstance(record.get("charging"), Mapping) else {}
        record["charging"] = {**base, **charging}
    if field_status:
        base = record.get("field_status") if isinstance(record.get("field_status"), Mapping) else {}
        record["field_status"] = {**base, **field_status}
    return record


# ---------------------------------------------------------------------- features
def to_feature(record: Mapping[str, Any]) -> dict:
    """A station as a GeoJSON Feature (Point in WGS-84; nested properties, no lon/lat)."""
    properties = {k: v for k, v in record.items() if k not in ("lon", "lat")}
    return {
        "type": "Feature",
        "id": record.get("id"),
        "geometry": {"type": "Point", "coordinates": [record["lon"], record["lat"]]},
        "properties": properties,
    }


def to_feature_collection(records: Iterable[Mapping[str, Any]]) -> dict:
    """Stations as a GeoJSON FeatureCollection."""
    return {"type": "FeatureCollection", "features": [to_feature(r) for r in records]}


# ---------------------------------------------------------------------- export
def export_stations(stations: Iterable[Mapping[str, Any]], path: str | Path, *, fmt: str | None = None) -> Path:
    """Write stations to GeoJSON, CSV or GeoPackage.

    Parameters
    ----------
    stations
        Station records (e.g. ``Registry.list_stations()``); each is validated first and
        keeps its ``version`` if it has one.
    path
        Target file; the format comes from its suffix (``.geojson``/``.json``, ``.csv``,
        ``.gpkg``) unless ``fmt`` is given. An existing file is replaced whole.
    fmt
        ``"geojson"``, ``"csv"`` or ``"gpkg"``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        Unknown format or an invalid record (nothing is written).
    """
    path = Path(path)
    kind = _format(path, fmt)
    records = []
    problems = Problems()
    for i, station in enumerate(stations, start=1):
        try:
            clean = validate_station(station)
        except InputError as err:
            problems.extend(f"station {i}", err)
            continue
        if isinstance(station, Mapping) and "version" in station:
            clean["version"] = station["version"]
        records.append(clean)
    if problems:
        raise problems.summary("cannot export stations", done="written")
    with _atomic(path) as tmp:
        if kind == "geojson":
            text = json.dumps(to_feature_collection(records), ensure_ascii=False, indent=1)
            tmp.write_text(text + "\n", encoding="utf-8")
        elif kind == "csv":
            rows = [flatten_station(r) for r in records]
            columns = _columns(rows) if rows else [c for c in _column_order() if not c.startswith("field_status_")
                                                   and c != "version"]
            _write_csv(tmp, columns, rows)
        else:
            _write_stations_gpkg(tmp, records)
    return path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return neutralise_cell(str(value))


def _write_csv(path: Path, columns: list[str], rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([neutralise_cell(c) for c in columns])
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])


def _write_stations_gpkg(path: Path, records: list[dict]) -> None:
    import geopandas as gpd
    import pandas as pd
    import pyogrio
    from shapely.geometry import Point

    rows = [flatten_station(r, lonlat=False) for r in records]
    columns = _columns(rows) if rows else [c for c in _column_order() if c not in ("lon", "lat", "version")
                                           and not c.startswith("field_status_")]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    for col in columns:
        if col.startswith("amenity_") or col == "charging_swap":
            frame[col] = frame[col].astype(bool)
        elif col in ("parking_bays", "coord_precision_m"):
            frame[col] = frame[col].astype("int64")
        elif col in ("daily_trucks", "version"):
            frame[col] = frame[col].astype("Int64")
        elif col in ("charging_total_kw", "charging_max_power_kw"):
            frame[col] = frame[col].astype(float)
        else:
            frame[col] = frame[col].astype(object)
    gdf = gpd.GeoDataFrame(frame, geometry=[Point(r["lon"], r["lat"]) for r in records], crs=WGS84)
    pyogrio.write_dataframe(gdf, path, layer=STATIONS_LAYER, driver="GPKG")


# ---------------------------------------------------------------------- read
def read_stations(path: str | Path, *, coords: str = "wgs84", fmt: str | None = None) -> list[dict]:
    """Read and validate stations from GeoJSON, CSV or GeoPackage.

    Parameters
    ----------
    path
        A file written by :func:`export_stations` or by hand / QGIS / Excel in the same
        shape. CSV needs at least the columns :data:`REQUIRED_COLUMNS`.
    coords
        System of the coordinates in the file: ``"wgs84"`` (default), ``"gcj02"`` (copied
        from Amap) or ``"bd09"`` (Baidu). They are converted to WGS-84 and ``coord_sys`` of
        each record is set to this value.
    fmt
        Override the format taken from the suffix.

    Returns
    -------
    list of dict
        Validated records (no ``version``), in file order.

    Raises
    ------
    InputError
        Unreadable or malformed file (bad JSON, missing or unknown columns, non-numeric
        lon, not points, ...) or invalid records; ``fields`` keys name the row/feature and
        field, e.g. ``"row 3 (MY-DH-03).lon"``.
    """
    items = _read_items(path, coords=coords, fmt=fmt, required=REQUIRED_COLUMNS)
    return [record for _label, record in validate_many(items, head=f"cannot read stations from {Path(path).name}",
                                                        done="imported")]


def read_station_changes(path: str | Path, *, coords: str = "wgs84",
                         fmt: str | None = None) -> list[tuple[str, dict]]:
    """Read a station file whose rows may carry only some columns.

    Each record holds exactly the fields its row carries (an ``id`` is required; a GeoJSON
    or GeoPackage point always carries ``lon``/``lat``). Pass them to
    :meth:`planner.registry.Registry.import_stations` with ``partial=True``: existing
    stations get only those fields changed; new ones must carry every required field.

    Returns
    -------
    list of (label, record)
        ``label`` names the row or feature for error messages (``"row 3"``).

    Raises
    ------
    InputError
        Unreadable file, unknown or repeated columns, no ``id`` column.
    """
    return _read_items(path, coords=coords, fmt=fmt, required=("id",))


def _read_items(path: str | Path, *, coords: str, fmt: str | None,
                required: tuple[str, ...]) -> list[tuple[str, dict]]:
    """(label, record) per row/feature: unflattened, coordinates in WGS-84, not validated."""
    path = Path(path)
    system = check_coord_system(coords)
    kind = _format(path, fmt)
    if not path.is_file():
        raise InputError(f"no such file: {path}", fields={"path": "file not found"})
    if kind == "csv":
        items = _read_csv_rows(path, required)
    elif kind == "geojson":
        items = _read_geojson_items(path)
    else:
        items = _read_gpkg_items(path)
    out = []
    for label, props in items:
        record = unflatten_station(props)
        record.pop("version", None)
        out.append((label, record_to_wgs84(record, system)))
    return out


def _read_csv_rows(path: Path, required: tuple[str, ...] = REQUIRED_COLUMNS) -> list[tuple[str, dict]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name} is not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8' in Excel",
            fields={"file": "must be UTF-8 CSV"}) from exc
    reader = csv.reader(_io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(f"{path.name} is not valid CSV (line {reader.line_num}): {exc}",
                         fields={f"row {reader.line_num}": str(exc)}) from exc
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError(f"{path.name} is empty; the first row must name the columns "
                         f"({', '.join(REQUIRED_COLUMNS)}, ...)", fields={"columns": "header row missing"})
    header = [cell.strip() for cell in rows[0]]
    issues = []
    missing = [c for c in required if c not in header]
    if missing:
        issues.append(f"missing column(s) {', '.join(missing)}; a station CSV needs at least "
                      f"{', '.join(required)}")
    unknown = [c for c in header if c and not _known_column(c) and not c.startswith(("amenity_", "field_status_"))]
    if unknown:
        issues.append(f"unknown column(s) {', '.join(unknown)}; valid: {', '.join(_column_order())}")
    duplicated = sorted({c for c in header if c and header.count(c) > 1})
    if duplicated:
        issues.append(f"repeated column(s) {', '.join(duplicated)}")
    if issues:
        raise InputError(f"{path.name}: " + "; ".join(issues), fields={"columns": "; ".join(issues)})
    problems = Problems()
    items = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        label = f"row {number}"
        if len(row) != len(header):
            problems.add(label, f"has {len(row)} cells but the header has {len(header)} columns "
                         "(check for unquoted commas)", f"有 {len(row)} 个单元格，但表头有 {len(header)} 列（请检查未加引号的逗号）")
            continue
        items.append((label, {name: cell for name, cell in zip(header, row) if name}))
    if problems:
        raise problems.summary(f"cannot read stations from {path.name}", done="imported")
    return items


def _read_geojson_items(path: Path) -> list[tuple[str, dict]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path.name} is not UTF-8 text", fields={"file": "must be UTF-8 JSON"}) from exc
    except RecursionError as exc:
        raise InputError(f"{path.name} is nested too deeply to be station data (thousands of levels of "
                         "[ or {)", fields={"file": "nested too deeply"}) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                         fields={"file": f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"}) from exc
    if isinstance(data, list):  # `stations --json`: plain records with lon/lat
        items = []
        for i, item in enumerate(data, start=1):
            if not isinstance(item, Mapping):
                raise InputError(f"{path.name}: item {i} is not a JSON object",
                                 fields={f"item {i}": "must be an object"})
            items.append((f"item {i}", dict(item)))
        return items
    if isinstance(data, Mapping) and data.get("type") == "Feature":
        data = {"type": "FeatureCollection", "features": [data]}
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection" \
            or not isinstance(data.get("features"), list):
        raise InputError(f"{path.name} is not a GeoJSON FeatureCollection (expected "
                         '{"type": "FeatureCollection", "features": [...]})',
                         fields={"file": "must be a GeoJSON FeatureCollection"})
    crs = data.get("crs")
    if isinstance(crs, Mapping):
        name = str((crs.get("properties") or {}).get("name", ""))
        if name and not re.search(r"(CRS84|EPSG:?:?4326)$", name.replace("::", ":")):
            raise InputError(f"{path.name} declares CRS {name}; stations must be in WGS-84 (EPSG:4326)",
                             fields={"crs": "must be WGS-84 (EPSG:4326)"})
    items = []
    problems = Problems()
    for i, feature in enumerate(data["features"], start=1):
        label = f"feature {i}"
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            problems.add(label, 'must be {"type": "Feature", "geometry": ..., "properties": ...}',
                         '须为 {"type": "Feature", "geometry": ..., "properties": ...}')
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, Mapping):
            problems.add(f"{label}.properties", "properties must be an object", "properties 须为对象")
            continue
        geometry = feature.get("geometry")
        coordinates = geometry.get("coordinates") if isinstance(geometry, Mapping) else None
        if not isinstance(geometry, Mapping) or geometry.get("type") != "Point" \
                or not isinstance(coordinates, list) or len(coordinates) < 2:
            problems.add(f"{label}.geometry", f"geometry must be a Point [lon, lat]; got {str(geometry)[:60]}",
                         f"几何须为点 [经度, 纬度]；收到 {str(geometry)[:60]}")
            continue
        record = dict(props)
        lon, lat = coordinates[0], coordinates[1]
        for name, value in (("lon", lon), ("lat", lat)):
            given = record.get(name)
            if given is not None and is_number(given) and is_number(value) and abs(given - value) > 1e-7:
                problems.add(f"{label}.{name}", f"property {name}={given} disagrees with the geometry ({value})",
                             f"属性 {name}={given} 与几何坐标（{value}）不一致")
        record["lon"], record["lat"] = lon, lat
        items.append((label, record))
    if problems:
        raise problems.summary(f"cannot read stations from {path.name}", done="imported")
    return items


def _read_gpkg_items(path: Path) -> list[tuple[str, dict]]:
    import pyogrio
    from pyogrio.errors import DataSourceError

    try:
        layers = [str(name) for name, _geom in pyogrio.list_layers(path)]
    except (DataSourceError, OSError, RuntimeError) as exc:
        raise InputError(f"{path.name} is not a readable GeoPackage: {exc}",
                         fields={"file": "not a readable GeoPackage"}) from exc
    if STATIONS_LAYER in layers:
        layer = STATIONS_LAYER
    elif len(layers) == 1:
        layer = layers[0]
    else:
        raise InputError(f"{path.name} has no layer {STATIONS_LAYER!r} (layers: {', '.join(layers) or 'none'})",
                         fields={"layer": f"expected a layer named {STATIONS_LAYER!r}"})
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer)
    except (DataSourceError, OSError, RuntimeError) as exc:
        raise InputError(f"cannot read layer {layer!r} of {path.name}: {exc}",
                         fields={"layer": "unreadable"}) from exc
    if "geometry" not in gdf or gdf.crs is None:
        raise InputError(f"layer {layer!r} of {path.name} has no geometry or no CRS; stations need points in "
                         "EPSG:4326", fields={"crs": "missing"})
    if gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(WGS84)
    items = []
    problems = Problems()
    columns = [c for c in gdf.columns if c != "geometry"]
    unknown = [c for c in columns if not _known_column(c) and not c.startswith(("amenity_", "field_status_"))]
    if unknown:
        raise InputError(f"{path.name}: unknown column(s) {', '.join(unknown)}",
                         fields={"columns": f"unknown column(s) {', '.join(unknown)}; valid: "
                                            f"{', '.join(_column_order())}"})
    for i, (row, geom) in enumerate(zip(gdf[columns].to_dict("records"), gdf.geometry), start=1):
        label = f"feature {i}"
        if geom is None or geom.is_empty or geom.geom_type != "Point":
            problems.add(f"{label}.geometry", f"geometry must be a Point; got {getattr(geom, 'geom_type', None)}",
                         f"几何须为点；收到 {getattr(geom, 'geom_type', None)}")
            continue
        record = {k: _plain(v) for k, v in row.items()}
        record["lon"], record["lat"] = float(geom.x), float(geom.y)
        items.append((label, record))
    if problems:
        raise problems.summary(f"cannot read stations from {path.name}", done="imported")
    return items


# ---------------------------------------------------------------------- layers
def write_layers(layers: Mapping[str, Any], path: str | Path, *, fmt: str | None = None,
                 provenance: Mapping[str, Any] | None = None) -> Path:
    """Write analysis layers (GeoDataFrames or DataFrames) to GeoPackage, GeoJSON or CSV.

    Parameters
    ----------
    layers
        ``{layer_name: frame}``. GeoDataFrames must have a CRS; they are written in WGS-84
        (EPSG:4326). Columns holding dicts/lists are written as JSON text.
    path
        Target; format from the suffix (``.gpkg``, ``.geojson``/``.json``, ``.csv``) unless
        ``fmt``. GeoPackage holds one layer per key; GeoJSON and CSV hold exactly one layer.
        CSV writes points as ``lon``/``lat`` columns and other geometries as WKT in
        ``geometry``, UTF-8 with BOM. An existing file is replaced whole.
    provenance
        ``{"data_status", "notice"}`` of the result the layers come from: every layer gets an
        ``inputs_data_status`` column, and a GeoPackage also a ``provenance`` table, so a file
        computed from illustrative inputs says so wherever it is opened.

    Raises
    ------
    InputError
        No layers, several layers for a single-layer format, a GeoDataFrame without CRS,
        or an unknown format.
    """
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    path = Path(path)
    kind = _format(path, fmt)
    if not isinstance(layers, Mapping) or not layers:
        raise InputError("write_layers needs at least one layer: {name: GeoDataFrame}",
                         fields={"layers": "empty"})
    if kind != "gpkg" and len(layers) > 1:
        names = ", ".join(map(str, layers))
        raise InputError(
            f"{kind.upper()} holds one layer but {len(layers)} were given ({names}); write a .gpkg "
            "(one layer per name) or one file per layer", fields={"layers": f"{kind} holds one layer"})
    prepared: dict[str, pd.DataFrame] = {}
    for name, frame in layers.items():
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"layer names must be non-empty text; got {name!r}", fields={"layers": "bad name"})
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"layer {name!r} must be a (Geo)DataFrame; got {type(frame).__name__}",
                             fields={name: "must be a (Geo)DataFrame"})
        frame = frame.copy()
        if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
            if frame.crs is None:
                raise InputError(f"layer {name!r} has no CRS; set one (e.g. gdf.set_crs('EPSG:4326')) before "
                                 "exporting", fields={name: "no CRS"})
            if frame.crs.to_epsg() != 4326:
                frame = frame.to_crs(WGS84)
        for col in frame.columns:
            if frame[col].dtype == object and frame[col].map(lambda v: isinstance(v, (dict, list, tuple, set))).any():
                frame[col] = frame[col].map(
                    lambda v: json.dumps(sorted(v) if isinstance(v, set) else v, ensure_ascii=False)
                    if isinstance(v, (dict, list, tuple, set)) else v)
        if provenance is not None:
            frame["inputs_data_status"] = provenance.get("data_status")
        prepared[name] = frame
    if provenance is not None and kind == "gpkg":
        prepared["provenance"] = pd.DataFrame([{"data_status": provenance.get("data_status"),
                                                "notice": provenance.get("notice") or ""}])

    with _atomic(path) as tmp:
        if kind == "gpkg":
            for name, frame in prepared.items():
                pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG")
        elif kind == "geojson":
            (name, frame), = prepared.items()
            if not isinstance(frame, gpd.GeoDataFrame):
                raise InputError(f"layer {name!r} has no geometry; GeoJSON needs one (use .csv)",
                                 fields={name: "no geometry"})
            pyogrio.write_dataframe(frame, tmp, layer=name, driver="GeoJSON")
        else:
            (name, frame), = prepared.items()
            _write_frame_csv(tmp, frame)
    return path


def _write_frame_csv(path: Path, frame) -> None:
    import geopandas as gpd
    import pandas as pd

    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
        geometry = frame.geometry
        table = pd.DataFrame(frame.drop(columns=[geometry.name]))
        if len(geometry) and (geometry.geom_type == "Point").all():
            table["lon"], table["lat"] = geometry.x.to_numpy(), geometry.y.to_numpy()
        else:
            table["geometry"] = geometry.to_wkt()
    else:
        table = pd.DataFrame(frame)
    for col in table.columns:
        if table[col].dtype == object or pd.api.types.is_string_dtype(table[col]):
            table[col] = table[col].map(neutralise_cell)
    table.columns = [neutralise_cell(str(c)) for c in table.columns]
    table.to_csv(path, index=False, encoding="utf-8-sig")
