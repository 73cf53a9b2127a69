"""Property-based tests (hypothesis) of the loaders and the status join.

- random valid datasets (names with diacritics, yes/no spellings, encodings,
  separators, name variants) round-trip through ``load_dataset`` with every
  count preserved;
- random corruption of a valid file only ever raises ``CoverageError``
  subclasses (or loads, with every row still accounted for).
"""

from __future__ import annotations

import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DX, LAT0, LON0, box, feature, write_dataset
from covgap.data.dataset import FILES, load_dataset
from covgap.data.text import name_key
from covgap.errors import CoverageError
from covgap.gaps import find_gaps

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

LETTERS = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
)
WORD = st.text(alphabet=LETTERS, min_size=2, max_size=7)
NAME = st.lists(WORD, min_size=1, max_size=3).map(" ".join)
YES = ["yes", "Yes", "Y", "true", "1", "có", "CÓ", "co", "x", "on"]
NO = ["no", "NO", "n", "false", "0", "không", "Khong", "off"]


def _spell(name: str, variant: int) -> str:
    """Write a village name as a person might: prefix, case, NFD, spaces."""
    return [
        lambda n: n,
        lambda n: n.upper(),
        lambda n: f"Bản {n}",
        lambda n: unicodedata.normalize("NFD", f"Thôn {n}"),
        lambda n: f"  {n.replace(' ', '  ')} ",
    ][variant % 5](name)


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, Any]:
    n_communes = draw(st.integers(1, 3))
    communes, villages, power, survey = [], [], [], []
    expected = {"villages": 0, "unpowered": set(), "uncovered": set(), "unknown_power": set()}
    commune_names = draw(
        st.lists(NAME, min_size=n_communes, max_size=n_communes, unique_by=name_key)
    )
    for i, commune_name in enumerate(commune_names):
        code = f"C{i + 1:02d}"
        x0 = LON0 + i * DX
        communes.append(
            feature(
                box(x0, LAT0, x0 + DX, LAT0 + DX),
                commune_code=code,
                commune_name=f"Xã {commune_name}",
            )
        )
        n_villages = draw(st.integers(1, 4))
        names = draw(st.lists(NAME, min_size=n_villages, max_size=n_villages, unique_by=name_key))
        for j, name in enumerate(names):
            vcode = f"V{i + 1}{j + 1:02d}"
            w = DX / n_villages
            villages.append(
                feature(
                    box(x0 + j * w, LAT0, x0 + (j + 1) * w, LAT0 + DX),
                    village_code=vcode,
                    village_name=name,
                    commune_code=code,
                    households=draw(st.integers(0, 200)),
                )
            )
            expected["villages"] += 1
            powered = draw(st.sampled_from([True, False, None]))
            signal = draw(st.booleans())
            by_name = draw(st.booleans())
            ident: dict[str, Any] = (
                {
                    "village_code": "",
                    "village_name": _spell(name, draw(st.integers(0, 4))),
                    "commune_name": _spell(commune_name, draw(st.integers(0, 4))),
                }
                if by_name
                else {"village_code": vcode, "village_name": "", "commune_name": ""}
            )
            power.append(
                {
                    **ident,
                    "grid_power": ""
                    if powered is None
                    else draw(st.sampled_from(YES if powered else NO)),
                }
            )
            survey.append({**ident, "mobile_signal": draw(st.sampled_from(YES if signal else NO))})
            if powered is False:
                expected["unpowered"].add(vcode)
            if powered is None:
                expected["unknown_power"].add(vcode)
            if not signal:
                expected["uncovered"].add(vcode)
    overrides = {
        "communes": communes,
        "villages": villages,
        "settlements": None,
        "power": draw(st.permutations(power)),
        "survey": draw(st.permutations(survey)),
        "cells": None,
        "dem": False,
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1258"])),
        "sep": draw(st.sampled_from([",", ";", "\t"])),
        "nfd": draw(st.booleans()),
    }
    return {"overrides": overrides, "expected": expected}


@SETTINGS
@given(datasets())
def test_random_valid_datasets_round_trip(case: dict[str, Any]) -> None:
    expected = case["expected"]
    with tempfile.TemporaryDirectory() as tmp:
        ds = load_dataset(write_dataset(Path(tmp) / "ds", **case["overrides"]))
        gaps = find_gaps(ds)
    assert ds.unmatched_rows == []
    assert len(ds.villages) == expected["villages"]
    assert len(ds.power) == len(ds.survey) == expected["villages"]
    assert ds.missing_status == {"power": [], "survey": []}
    assert set(gaps.unpowered) == expected["unpowered"]
    assert set(gaps.uncovered) == expected["uncovered"]
    unknown = set(gaps.villages.loc[gaps.villages["power_status"] == "unknown", "village_code"])
    assert unknown == expected["unknown_power"]
    assert all(unicodedata.is_normalized("NFC", n) for n in ds.villages["village_name"])


# ---------------------------------------------------------------------- corruption

TARGETS = ["communes", "villages", "settlements", "power", "survey", "cells", "sites"]


def _drop_column(text: str, k: int) -> str:
    lines = text.splitlines()
    out = []
    for line in lines:
        cells = line.split(",")
        if len(cells) > 1:
            del cells[k % len(cells)]
        out.append(",".join(cells))
    return "\n".join(out) + "\n"


def _blank_cell(text: str, k: int, row: int) -> str:
    lines = text.splitlines()
    if len(lines) < 2:
        return text
    i = 1 + row % (len(lines) - 1)
    cells = lines[i].split(",")
    cells[k % len(cells)] = ""
    lines[i] = ",".join(cells)
    return "\n".join(lines) + "\n"


def _drop_property(text: str, k: int) -> str:
    import json

    doc = json.loads(text)
    keys = sorted({key for f in doc["features"] for key in f["properties"]})
    if keys:
        gone = keys[k % len(keys)]
        for f in doc["features"]:
            f["properties"].pop(gone, None)
    return json.dumps(doc, ensure_ascii=False)


def corrupt(data: bytes, kind: str, position: float, k: int, garbage: bytes, csv: bool) -> bytes:
    at = int(position * len(data))
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        if not data:
            return data
        at = min(at, len(data) - 1)
        return data[:at] + bytes([data[at] ^ (1 << (k % 8))]) + data[at + 1 :]
    if kind == "insert":
        return data[:at] + garbage + data[at:]
    text = data.decode("utf-8")
    if kind == "drop_column":
        return (_drop_column(text, k) if csv else _drop_property(text, k)).encode("utf-8")
    if kind == "blank_cell":
        if csv:
            return _blank_cell(text, k, int(position * 100)).encode("utf-8")
        return text.replace('"V0', '"', 1).replace('"C0', '" ', 1).encode("utf-8")
    raise AssertionError(kind)


_BASE: dict[str, Path] = {}


def _base_dataset() -> Path:
    """One valid dataset, written once (hypothesis examples copy it)."""
    if "root" not in _BASE:
        tmp = Path(tempfile.mkdtemp(prefix="covgap-base-"))
        _BASE["root"] = write_dataset(tmp / "ds", dem=False)
    return _BASE["root"]


@SETTINGS
@given(
    target=st.sampled_from(TARGETS),
    kind=st.sampled_from(["truncate", "flip", "insert", "drop_column", "blank_cell"]),
    position=st.floats(0.0, 1.0),
    k=st.integers(0, 50),
    garbage=st.binary(min_size=1, max_size=12)
    | st.sampled_from([b'"', b",,,", b"\n\n", b"\xff\xfe", b"{]", b"\x00", b"NaN", b";"]),
)
def test_random_corruption_raises_only_coverage_errors(
    target: str, kind: str, position: float, k: int, garbage: bytes
) -> None:
    import shutil

    base = _base_dataset()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        shutil.copytree(base, root)
        path = root / FILES[target]
        data = path.read_bytes()
        path.write_bytes(corrupt(data, kind, position, k, garbage, path.suffix == ".csv"))
        try:
            ds = load_dataset(root)
        except CoverageError as exc:
            assert "\n" not in str(exc)
            return
        # It loaded: every status row is still accounted for.
        for table, frame in (("power", ds.power), ("survey", ds.survey)):
            assert len(frame) + len(ds.missing_status[table]) == len(ds.villages)


@pytest.mark.parametrize("kind", ["truncate", "flip", "insert", "drop_column", "blank_cell"])
def test_corrupt_changes_the_file(kind: str) -> None:
    data = b"village_code,grid_power\nV01,yes\nV02,no\n"
    assert corrupt(data, kind, 0.5, 1, b"##", csv=True) != data
