"""How news copy describes people: role and title words, and the variants readers use for them.

Shared by ingest (a name's title words are not part of the name; "the governor said" names a role)
and the chatbot (a question about "the French president" or "Russia's envoy" finds the person the
articles describe so). Words are compared lower-cased, with a trailing "'s" and dots removed."""

from __future__ import annotations

import re

ROLE_WORDS = frozenset("""
president vice prime minister secretary ambassador envoy emissary governor gov senator sen rep representative
congressman congresswoman lawmaker legislator mayor chancellor king queen prince princess pope cardinal bishop judge
justice attorney lawyer prosecutor spokesperson spokesman spokeswoman coach manager ceo executive director chairman
chairwoman chair founder commissioner general gen admiral commander officer official leader head speaker diplomat
adviser advisor deputy premier emir sultan ayatollah sheikh chief counsel sheriff captain professor prof dr mr
mrs ms lord plaintiff defendant witness lady dame sir senior former outgoing incoming acting interim foreign
defense defence treasury finance
health interior state press national security first trade economy energy
""".split())

# Words a reader may use for one another; each group is one meaning.
_VARIANT_GROUPS = [
    "ambassador envoy emissary",
    "governor gov",
    "senator sen",
    "congressman congresswoman rep representative lawmaker",
    "pm premier",
    "ceo chief-executive",
    "defence defense",
    "chairman chairwoman chair",
    "spokesman spokeswoman spokesperson",
    "adviser advisor",
    "us u.s american america washington united-states",
    "uk u.k british britain united-kingdom london",
    "un u.n united-nations",
    "eu european-union",
    "russia russian moscow kremlin",
    "ukraine ukrainian kyiv kiev",
    "france french paris elysee",
    "germany german berlin",
    "china chinese beijing",
    "japan japanese tokyo",
    "india indian delhi",
    "iran iranian tehran",
    "israel israeli",
    "italy italian rome",
    "spain spanish madrid",
    "canada canadian ottawa",
    "mexico mexican",
    "brazil brazilian",
    "turkey turkish ankara",
    "poland polish warsaw",
    "denmark danish copenhagen",
    "greenland greenlandic",
    "venezuela venezuelan caracas",
    "north-korea north-korean pyongyang",
    "south-korea south-korean seoul",
    "europe european brussels",
    "nato",
    "resolution text draft motion",
]
_GROUP_OF: dict[str, int] = {w: i for i, group in enumerate(_VARIANT_GROUPS) for w in group.split()}
_MULTI = sorted((w for w in _GROUP_OF if "-" in w), key=len, reverse=True)


def norm(word: str) -> str:
    """"Russia's" -> "russia", "U.S." -> "us", "Gov." -> "gov"."""
    word = word.lower().strip("“”\"'’,.;:()")
    for suffix in ("'s", "’s", "s'", "s’"):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            word = word[: -len(suffix)] + ("s" if suffix.startswith("s") else "")
            break
    return word.replace(".", "")


def words(phrase: str) -> list[str]:
    """The phrase's words, normalised, with the multi-word names joined ("united states" -> "united-states")."""
    text = " " + " ".join(norm(w) for w in re.findall(r"[\w.’'-]+", phrase)) + " "
    for multi in _MULTI:
        text = text.replace(" " + multi.replace("-", " ") + " ", " " + multi + " ")
    return [w for w in text.split() if w]


def concept(word: str) -> str:
    """One key for all the variants of a word ("envoy" and "ambassador" give the same)."""
    group = _GROUP_OF.get(word)
    return f"#{group}" if group is not None else word


def is_role_word(word: str) -> bool:
    """"President", "Gov.", "senators" (a plural names the role too)."""
    w = norm(word)
    return w in ROLE_WORDS or w.endswith("s") and w[:-1] in ROLE_WORDS


def variants(word: str) -> list[str]:
    """The word and the ones that mean the same ("american" -> "us", "america", "united states", …)."""
    group = _GROUP_OF.get(word)
    return [word] if group is None else [w.replace("-", " ") for w in _VARIANT_GROUPS[group].split()]
