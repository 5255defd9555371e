"""Reading a CSV of figures per community: which column names the communities, which hold figures,
and every bad row refused with its row number (the header is row 1)."""

from __future__ import annotations

import pytest

from spatial.errors import InvalidUpload
from spatial.figures import CommunityKey, parse_number, read_figure_table

COMMUNITIES = [CommunityKey(1, "Douglas", "35"), CommunityKey(2, "Oakland", "36"), CommunityKey(3, "Loop", "32")]


def _file(tmp_path, text: str, encoding: str = "utf-8"):
    path = tmp_path / "figures.csv"
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("text, expected", [("21325", 21325.0), ("21,325", 21325.0), (" 4.5 ", 4.5), ("12 %", 12.0),
                                            ("1,234,567.5", 1234567.5), ("n/a", None), ("", None), ("1,5", None),
                                            ("inf", None)])
def test_numbers_as_spreadsheets_write_them(text, expected):
    assert parse_number(text) == expected


def test_decimal_commas_in_a_semicolon_file():
    assert parse_number("12,5", decimal_comma=True) == 12.5 and parse_number("1.234,5", decimal_comma=True) == 1234.5


def test_codes_are_preferred_when_a_file_has_codes_and_names(tmp_path):
    table = read_figure_table(_file(tmp_path, "Area,Name,Population\n35,DOUGLAS,\"21,325\"\n36,oakland,6799\n"
                                              "32,Loop,42298\n"), COMMUNITIES, kind="population")
    assert (table.key, table.key_column) == ("code", "Area")
    assert table.figures == {"Population": {1: 21325.0, 2: 6799.0, 3: 42298.0}}
    assert table.ignored_columns == ["Name"] and table.warnings == []


def test_names_in_any_case_with_a_semicolon_and_windows_encoding(tmp_path):
    table = read_figure_table(_file(tmp_path, "Commune;unemployment;youth\ndouglas;12,5;0.2\nLOOP;3;\n", "cp1252"),
                              COMMUNITIES, kind="indicator")
    assert table.key == "name" and set(table.figures) == {"unemployment", "youth"}
    assert table.figures["youth"] == {1: 0.2}
    assert any("empty on row(s) 3" in w for w in table.warnings)
    assert any("1 of the boundary set's 3 communities are not in the file" in w for w in table.warnings)


def test_a_population_file_with_several_numeric_columns(tmp_path):
    path = _file(tmp_path, "name,households,pop_2020\nDouglas,9739,21325\n")
    assert read_figure_table(path, COMMUNITIES, kind="population").figures == {"pop_2020": {1: 21325.0}}
    unclear = _file(tmp_path, "name,households,adults\nDouglas,9739,18000\n")
    with pytest.raises(InvalidUpload, match="say which one is the population"):
        read_figure_table(unclear, COMMUNITIES, kind="population")
    chosen = read_figure_table(unclear, COMMUNITIES, kind="population", columns=["adults"])
    assert chosen.figures == {"adults": {1: 18000.0}}


@pytest.mark.parametrize("text, words", [
    ("area,pop\n35,1\nOakland,2\n", "codes in some rows and names in others"),
    ("name,other name,pop\nDouglas,Douglas,1\n", "Both 'name' and 'other name' hold community names"),
    ("place,pop\nAtlantis,1\n", "No column of the file holds the codes or names"),
    ("name,notes\nDouglas,big\n", "no numeric column"),
    ("name,pop\n", "no rows of figures"),
])
def test_files_that_cannot_be_read_say_why(tmp_path, text, words):
    with pytest.raises(InvalidUpload, match=words):
        read_figure_table(_file(tmp_path, text), COMMUNITIES, kind="population")


def test_every_bad_row_is_reported_and_the_file_refused(tmp_path):
    path = _file(tmp_path, "name,population\nDouglas,10\nAtlantis,5\nDOUGLAS,4\nOakland,-3\nLoop,many\n,7\n")
    with pytest.raises(InvalidUpload) as refused:
        read_figure_table(path, COMMUNITIES, kind="population")
    assert refused.value.details["rejected_rows"] == [
        {"row": 3, "reason": "no community with the name 'Atlantis' in the boundary set"},
        {"row": 4, "reason": "Douglas is given twice (first on row 2)"},
        {"row": 5, "reason": "the population of Oakland is negative (-3)"},
        {"row": 6, "reason": "'many' in column 'population' is not a number"},
        {"row": 7, "reason": "the community name is empty"},
    ]
    assert "nothing was stored" in refused.value.message
    # An indicator may be negative (a change, a balance).
    negative = _file(tmp_path, "name,change\nOakland,-3\n")
    assert read_figure_table(negative, COMMUNITIES, kind="indicator").figures == {"change": {2: -3.0}}
