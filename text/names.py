"""Speaker names in running text: capitalised runs with title words and acronyms stripped.

Shared by ingest (who said a quote) and the chatbot (the person a follow-up question refers to)."""

from __future__ import annotations

import re

NAME_TOKEN = r"(?:[A-Z][a-zA-Z'’\-]+|(?:de|van|von|bin|al|da|del|la|le)\b)"
NAME = re.compile(rf"\b[A-Z][a-zA-Z'’\-]+(?:[ \t]+{NAME_TOKEN})*")  # a name never runs across a line break
NOT_NAMES = {
    "the", "a", "an", "but", "and", "or", "so", "during", "after", "before", "earlier", "later",
    "meanwhile", "in", "on", "at", "as", "when", "while", "if", "then", "however", "still",
    "president", "prime", "minister", "former", "french", "russian", "ukrainian", "american",
    "british", "german", "chinese", "european", "us", "u.s", "un", "uk", "eu", "he", "she",
    "they", "it", "we", "i", "this", "that", "these", "there", "ambassador", "leader", "chancellor",
    "secretary", "senator", "sen", "rep", "gov", "governor", "mr", "mrs", "ms", "dr", "his",
    "her", "their", "our", "new", "white", "house", "state", "general", "assembly", "spokesman",
    "spokeswoman", "spokesperson", "chief", "staff", "director", "minister's", "according", "monday",
    "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today", "yesterday",
    "who", "what", "which", "where", "why", "how", "did", "does", "do", "is", "was",
}


def person_names(frame: str) -> list[tuple[int, int, str]]:
    """Capitalised runs with title words and acronyms stripped, as (start, end, name)."""
    found = []
    for m in NAME.finditer(frame):
        tokens = m.group(0).split()
        while tokens and (tokens[0].lower().strip("’'s") in NOT_NAMES or tokens[0].isupper()):
            tokens = tokens[1:]
        while tokens and (tokens[-1].lower() in NOT_NAMES or tokens[-1].isupper()):
            tokens = tokens[:-1]
        if tokens:
            found.append((m.start(), m.end(), " ".join(tokens).removesuffix("’s").removesuffix("'s")))
    return found
