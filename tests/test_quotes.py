"""Quotes: who said what, found at ingest time and stored with the chunk that holds them."""

from __future__ import annotations

import pytest

from ingest.people import attribute

# The seed's quotes and who said them, read off the article by a person.
MACRON = [
    "must be involved", "We want a quick deal but not a fragile one", "a big change",
    "There is good reason for President Trump to re-engage with President Putin",
    "In 2014, our predecessors negotiated peace with President Putin",
    "So this is why being strong and having deterrence capacities is the only way",  # “…,” he said
    "A lot of my European colleagues are ready to be engaged",  # “…,” he said
    "I think we should never say I will never send boots on the ground",  # Macron said: “…”
    "step up", "strong",  # Macron told Trump that Europe is ready to “step up” … hoped for “strong” …
]
TRUMP = ["within weeks", "this week or next", "major"]
NEBENZIA = ["a step in the right direction"]


def speaker_of(quotes, words: str) -> str:
    found = [q.speaker for q in quotes if q.text.strip(" ,.").startswith(words)]
    assert found, f"no quote found starting {words!r}; found {[q.text[:40] for q in quotes]}"
    assert len(set(found)) == 1, f"{words!r} given to several speakers: {found}"
    return found[0]


@pytest.fixture(scope="module")
def seed_quotes(seeded, seed_article_id):
    return attribute(seeded.store.article_text(seed_article_id)).quotes


@pytest.mark.parametrize("words", MACRON)
def test_every_macron_quote_is_attributed_to_macron(seed_quotes, words: str) -> None:
    assert speaker_of(seed_quotes, words) in {"Emmanuel Macron", "Macron"}


@pytest.mark.parametrize("words", NEBENZIA)
def test_nebenzia_quote_is_attributed_to_nebenzia(seed_quotes, words: str) -> None:
    assert speaker_of(seed_quotes, words) in {"Vassily Nebenzia", "Nebenzia"}


@pytest.mark.parametrize("words", TRUMP)
def test_trump_quotes_are_not_given_to_macron(seed_quotes, words: str) -> None:
    # "Trump said the war could end “within weeks” as he met with … Emmanuel Macron"
    assert speaker_of(seed_quotes, words) in {"Donald Trump", "Trump"}


def test_one_speaker_keeps_one_name(seed_quotes) -> None:
    """"Macron" and "Emmanuel Macron" are one person, so a question about either finds all."""
    macron = {q.speaker for q in seed_quotes if q.speaker.endswith("Macron")}
    assert len(macron) == 1


def test_stored_quotes_carry_their_sentence_and_chunk(seeded, seed_article_id) -> None:
    chunks = seeded.store.article_chunks(seed_article_id)
    stored = [(c, q) for c in chunks for q in c.quotes]
    assert len(stored) >= len(MACRON) + len(TRUMP) + len(NEBENZIA)
    for chunk, q in stored:
        assert q["sentence"] in chunk.text, "a stored quote's sentence is not in its chunk"
        assert q["text"] in q["sentence"]
    he_said = [q for _, q in stored if q["text"].startswith("So this is why being strong")]
    assert he_said and he_said[0]["speaker"].endswith("Macron")
    assert he_said[0]["sentence"].endswith("he said.")


def test_the_quote_index_answers_who_said_what(seeded_bot) -> None:
    index = seeded_bot.retriever.index
    assert {"Emmanuel Macron", "Vassily Nebenzia", "Donald Trump"} <= set(index.quotes)
    macron = [q.text for q in index.quotes["Emmanuel Macron"]]
    assert any(t.startswith("I think we should never say") for t in macron)
    assert not any(t.startswith("within weeks") for t in macron)
    nebenzia = index.quotes["Vassily Nebenzia"]
    assert nebenzia and "Russian ambassador to the UN" in nebenzia[0].roles  # the role the article gives him


# -- the shapes news copy uses, in other stories ------------------------------------------------

def quotes_of(*paragraphs: str) -> list[tuple[str, str]]:
    return [(q.speaker, q.text.strip(" ,.")) for q in attribute("\n\n".join(paragraphs)).quotes]


def test_quote_then_said_name() -> None:
    assert quotes_of("“We will rebuild the bridge by summer,” said Ana Lopez, the city's mayor.") == [
        ("Ana Lopez", "We will rebuild the bridge by summer")]


def test_name_said_colon_quote_with_straight_quotes() -> None:
    assert quotes_of('Health minister Karl Weber said: "The hospitals are ready for the winter."') == [
        ("Karl Weber", "The hospitals are ready for the winter")]


def test_he_said_resolves_to_the_last_named_speaker_across_paragraphs() -> None:
    found = quotes_of(
        "“Nobody expected the river to rise this fast,” Mayor Ana Lopez said on Monday.",
        "The council met engineers from the regional water authority later that day.",
        "“We will need federal help to rebuild,” she said.",
    )
    assert [s for s, _ in found] == [found[0][0]] * 2 and found[0][0].endswith("Ana Lopez")


def test_he_said_takes_the_subject_of_its_own_sentence() -> None:
    found = dict((t, s) for s, t in quotes_of(
        "“Prices will keep falling,” Finance Minister Rachel Green said.",
        "Tom Hart of the opposition rejected the forecast, and he said “nothing in the data supports it.”",
    ))
    assert found["Prices will keep falling"].endswith("Rachel Green")
    assert found["nothing in the data supports it"].endswith("Tom Hart")


@pytest.mark.parametrize(("text", "speaker"), [
    ("Macron later said: “We are ready to help.”", "Macron"),
    ("Opposition leader Tom Hart rejected the forecast: “Nothing in the data supports it,” he said.", "Tom Hart"),
    ("Trump demanded “total victory” at the rally, and said it was close.", "Trump"),
])
def test_words_after_a_name_do_not_become_part_of_it(text: str, speaker: str) -> None:
    assert [s for s, _ in quotes_of(text)] == [speaker]


def test_a_sentence_without_a_speech_verb_has_no_speaker() -> None:
    assert quotes_of("The so-called “peace dividend” was spent long ago on other projects.") == []


def test_a_quote_naming_someone_else_is_not_theirs() -> None:
    # Trump is the topic inside Macron's words, never the speaker
    found = quotes_of("“President Trump is right to talk to Moscow,” Macron said at the White House.")
    assert found == [("Macron", "President Trump is right to talk to Moscow")]
