"""The people of the quote index, and which of them a question's words describe.

A person is found by any name the articles use ("Emmanuel Macron", "Macron", "President Macron") or
by the roles they give him ("the French president", "Russia's envoy" for "Russian ambassador to the
UN Vassily Nebenzia"), with the variants of `text.roles` ("envoy" ~ "ambassador", "Russia's" ~
"Russian"). No parse at question time: the roles were found at ingest."""

from __future__ import annotations

from dataclasses import dataclass, field

from text.roles import concept, norm, words
from vectorstore.indexes import DerivedIndexes, QuoteEntry

_FILLER = {"the", "a", "an", "of", "to", "at", "for", "in", "and", "on", "s", "mr", "mrs", "ms", "dr"}


@dataclass
class Speaker:
    name: str
    roles: list[str] = field(default_factory=list)
    quotes: list[QuoteEntry] = field(default_factory=list)
    by_name: bool = False  # the question used one of the person's names, not only a role
    score: float = 0.0

    @property
    def described(self) -> str:
        """"Vassily Nebenzia (Russian ambassador to the UN)"."""
        return f"{self.name} ({self.roles[0]})" if self.roles else self.name


def speakers(index: DerivedIndexes) -> dict[str, Speaker]:
    """Every quoted person; "Macron" joins "Emmanuel Macron" when he is the only one of that surname."""
    people: dict[str, Speaker] = {}
    for name, entries in index.quotes.items():
        person = people.setdefault(name, Speaker(name))
        person.quotes.extend(entries)
        for q in entries:
            person.roles.extend(r for r in q.roles if r not in person.roles)
    for name in [n for n in people if " " not in n]:
        fuller = [p for n, p in people.items() if " " in n and n.split()[-1] == name]
        if len(fuller) == 1:
            short = people.pop(name)
            fuller[0].quotes.extend(short.quotes)
            fuller[0].roles.extend(r for r in short.roles if r not in fuller[0].roles)
    return people


def content_words(description: str) -> list[str]:
    return [w for w in words(description) if w not in _FILLER]


def match(description: str, index: DerivedIndexes) -> list[Speaker]:
    """The quoted people the description fits, best first: all its words are the person's names or
    the words of a role the articles give them (a name may come with a title they were not given)."""
    asked = content_words(description)
    if not asked:
        return []
    found = []
    for person in speakers(index).values():
        names = {norm(w) for w in person.name.replace("-", " ").split()} | {norm(person.name)}
        roles = {concept(w) for r in person.roles for w in content_words(r)}
        named = [w for w in asked if w in names]
        rest = [w for w in asked if w not in names]
        fits = [w for w in rest if concept(w) in roles]
        if not named and (not rest or len(fits) < len(rest)):
            continue
        last = norm(person.name.split()[-1])
        score = 3.0 * (last in named) + len(named) + len(fits) - 0.5 * (len(rest) - len(fits))
        if score > 0:
            found.append(Speaker(person.name, person.roles, person.quotes, bool(named), score))
    return sorted(found, key=lambda p: (p.score, len(p.quotes)), reverse=True)
