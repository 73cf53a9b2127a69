import pandas as pd
import pytest

from covgap.data.survey import read_survey
from covgap.errors import MissingColumnError, ValueParseError


def write(tmp_path, text):
    path = tmp_path / "village_signal.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_read_survey(tmp_path):
    table = read_survey(write(tmp_path, "village_code,mobile_signal\nV1,có\nV2,không\nV3,\n"))
    assert table.name == "survey"
    assert table.file == "survey/village_signal.csv"
    assert table.values["mobile_signal"].tolist() == [True, False, pd.NA]


def test_bad_signal_value(tmp_path):
    with pytest.raises(ValueParseError, match=r"row 2, column 'mobile_signal': expected yes/no"):
        read_survey(write(tmp_path, "village_code,mobile_signal\nV1,yes\nV2,weak\n"))


def test_missing_signal_column(tmp_path):
    with pytest.raises(MissingColumnError, match="did you mean 'mobile signal'"):
        read_survey(write(tmp_path, "village_code,mobile signal\nV1,yes\n"))
