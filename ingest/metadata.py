"""Title, agency, date and byline found in the text when the source does not give them."""

from __future__ import annotations

import re
from datetime import date

from dateutil import parser as dateparser

from ingest.clean import CleanText, looks_like_headline

_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_MONTH = rf"(?:{_MONTHS})[a-z]*\.?"
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})\s+({_MONTH})(?:,?\s+(\d{{4}}))?\b", re.IGNORECASE)
_MONTH_DAY = re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.IGNORECASE)
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})")
_YEAR = re.compile(r"\b(19|20)\d{2}\b")
_AGENCIES = {
    "afp": "AFP", "agence france-presse": "AFP", "ap": "AP", "associated press": "AP",
    "reuters": "Reuters", "pa": "PA", "press association": "PA", "dpa": "dpa", "efe": "EFE",
    "ansa": "ANSA", "bloomberg": "Bloomberg", "upi": "UPI", "xinhua": "Xinhua",
}


def parse_date(value: str | None, default_year: int | None = None) -> str | None:
    """An ISO date (YYYY-MM-DD) from free text, or None."""
    if not value:
        return None
    iso = _ISO.search(value)
    if iso:
        return _safe_iso(int(iso[1]), int(iso[2]), int(iso[3]))
    for pattern, day_first in ((_DAY_MONTH, True), (_MONTH_DAY, False)):
        m = pattern.search(value)
        if not m:
            continue
        day, month = (m[1], m[2]) if day_first else (m[2], m[1])
        year = int(m[3]) if m[3] else default_year
        if year is None:
            continue
        try:
            parsed = dateparser.parse(f"{day} {month.rstrip('.')[:3]} {year}", dayfirst=True)
        except (ValueError, OverflowError):
            continue
        return parsed.date().isoformat() if parsed else None
    try:
        parsed = dateparser.parse(value, fuzzy=False)
    except (ValueError, OverflowError):
        return None
    return parsed.date().isoformat() if parsed and _YEAR.search(value) else None


def _safe_iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def find_agency(clean: CleanText) -> str | None:
    for line in clean.copyright:
        words = re.sub(r"^(?:©|\(c\)|copyright)\s*", "", line, flags=re.IGNORECASE)
        name = _YEAR.sub("", words).strip(" ,.-").lower()
        if name in _AGENCIES:
            return _AGENCIES[name]
    return None


def find_date(clean: CleanText) -> str | None:
    years = [int(m.group(0)) for line in clean.copyright for m in _YEAR.finditer(line)]
    year = years[0] if years else None
    for line in clean.datelines:
        found = parse_date(line, default_year=year)
        if found:
            return found
    for line in clean.lines[:5]:  # "Jan. 23, 2025, 11:16 a.m. ET" above the story
        found = parse_date(line) if len(line.split()) <= 12 else None
        if found:
            return found
    return None


def find_title(clean: CleanText) -> str | None:
    """The first headline-shaped line near the top."""
    for line in clean.lines[:6]:
        if looks_like_headline(line):
            return line
    return None
