"""Sensitive categories are recognised under every spelling a feed may use (issue 20's 16 variants and more)."""

from __future__ import annotations

import pytest

from spatial.sensitive import SHIPPED_TERMS, classify, classify_all, fold, normalise_term

# The spellings that reached partners before (issue 20), and their cousins.
VARIANTS = [
    "ＳＥＸ ＯＦＦＥＮＣＥ",  # full-width
    "SE\u200bX OFFENCE",  # zero-width space inside the word
    "S\u00adEXUAL ASSAULT",  # soft hyphen
    "Se\u200dxual abuse",  # zero-width joiner
    "Violencia doméstica",
    "VIOLENCIA DOMESTICA",
    "Violacio\u0301n",  # combining accent
    "VIOLACIÓN",
    "Abuso sexual",
    "Trata de personas",
    "Buggery",
    "Unlawful carnal knowledge",
    "Indecent Assault",
    "Serious indecency",
    "Incest",
    "Sexual intercourse with a minor",
    "CRIM SEXUAL ASSAULT",
    "OFFENSE INVOLVING CHILDREN",
    "Human Trafficking (A), Commercial Sex Acts",
    "Domestic Battery",
    "ℝape",  # a mathematical letter NFKC turns into R
]
ORDINARY = ["Theft", "BATTERY", "Burglary", "Robbery", "Homicide", "Essex Road theft", "Rapid response unit",
            "Carnival disturbance", "Assault", "Narcotics", "Vandalism", "Firearm offences", "Robo", "Hurto"]


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_is_sensitive(name):
    found = classify(name, SHIPPED_TERMS)
    assert found.sensitive, name
    assert found.matched_term in SHIPPED_TERMS


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_categories_are_not(name):
    assert not classify(name, SHIPPED_TERMS).sensitive, name


def test_near_misses_are_reported_for_review():
    assert classify("BUGERY", SHIPPED_TERMS).near_miss == "buggery"  # one letter off
    assert classify("Inceste", ["incest"]).sensitive  # a stem matches
    assert classify("DOMESTC DISPUTE", SHIPPED_TERMS).near_miss is not None
    assert classify("Misrapeported", ["rape"]).near_miss == "rape"  # inside a longer word
    assert classify("Theft", SHIPPED_TERMS).near_miss is None


def test_admin_terms_extend_the_list_and_are_folded_alike():
    assert not classify("Obeah", SHIPPED_TERMS).sensitive
    assert classify("OBEAH PRACTICE", [*SHIPPED_TERMS, normalise_term("  Obéah ")]).sensitive
    assert normalise_term("Trata  de\u200bPersonas") == "trata depersonas"
    assert fold("ＡＢＣ\u200b é") == "abc e"


def test_each_distinct_category_is_classified_once():
    found = classify_all(["Theft", "Theft", None, "Rape"], SHIPPED_TERMS)
    assert [(c.category, c.sensitive) for c in found] == [("", False), ("Rape", True), ("Theft", False)]
