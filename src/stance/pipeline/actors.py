"""Find who is mentioned: actor mentions in parsed sentences.

In: a parsed spaCy doc (one paragraph) and the actor :class:`~stance.registry.Registry`.
Out: :class:`Mention` records (canonical actor id, side, token span, kind), found in two
passes:

1. registry aliases and display names ("Zelenskyy", "the Kremlin", "Putin's" — the
   possessive is a separate token), longest match first, with case rules so that "US"
   is not "us" and "Trump" is not "trump";
2. named entities the registry lacks (PERSON, ORG, NORP, GPE), kept as new actors with a
   slug id — a person by surname (``marchenko``), so "Olena Marchenko" and a later
   "Marchenko" are one actor; demonyms ("Ukrainian", "British") are mapped to the
   registry's country when one fits. A new actor's side is inferred from its title,
   nationality or organisation (:mod:`.sides`: "Russian Deputy Foreign Minister Alexander
   Grushko" → russia, marked ``side_inferred``), else ``other``.

New actors are per article (:class:`ArticleActors`) and reported with the results.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..config import AUTHOR
from ..labels.registry import Actor, Registry
from .sides import SideCues, infer_side

PERSON, GROUP, PLACE = "person", "group", "place"
_NEW_LABELS = {"PERSON": PERSON, "ORG": GROUP, "NORP": GROUP, "GPE": PLACE}
_GROUP_ROLE = re.compile(r"collective|jointly|\bgroup of\b", re.IGNORECASE)
_FEMALE_NAMES = {
    "karoline",
    "yvette",
    "mette",
    "ursula",
    "kaja",
    "giorgia",
    "maria",
    "yulia",
    "olena",
    "kamala",
    "hillary",
    "annalena",
    "kristi",
    "agnes",
    "ingrid",
    "liz",
}
_MALE_A_NAMES = {
    "nikita",
    "ilya",
    "luca",
    "joshua",
    "mustafa",
    "andrea",
    "kostya",
    "sasha",
    "narendra",
    "attila",
    "jonah",
    "elijah",
    "juha",
    "mika",
}
_DEMONYM_SUFFIXES = ("ians", "ans", "ian", "ean", "an", "ese", "ish", "i", "n", "s")
_IRREGULAR_DEMONYMS = {
    "french": "France",
    "dutch": "Netherlands",
    "swiss": "Switzerland",
    "welsh": "Wales",
    "greek": "Greece",
}


@dataclass(frozen=True)
class Mention:
    """One mention of an actor: tokens ``start:end`` of the paragraph doc."""

    actor: str
    side: str
    start: int
    end: int
    text: str
    kind: str  # person | group | place
    known: bool  # True when the registry knows the actor


@dataclass
class NewActor:
    """An actor found by the entity recogniser that the registry lacks."""

    id: str
    name: str
    side: str = "other"
    kind: str = PERSON
    role: str = ""  # from an apposition ("an analyst at ..."), for "the analyst said"
    side_inferred: bool = False  # side read from a title or nationality (:mod:`.sides`)


@dataclass
class ActorInfo:
    """What coreference needs to know of any actor, registered or new."""

    id: str
    side: str
    kind: str
    gender: str = ""  # "f", "m" or "" (unknown / not a person)
    titles: str = ""  # lower-cased role and aliases, searched for "the president"
    name: str = ""  # the full name, whose initials a transcript's "HD:" may stand for


def slugify(text: str) -> str:
    """``"Olena Marchenko"`` → ``"olena_marchenko"`` (ASCII, lowercase snake_case)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    if not slug:
        return "actor"
    return slug if slug[0].isalpha() else f"a_{slug}"


def guess_gender(name: str) -> str:
    """A rough guess from the first name, used only to prefer "she" over "he" candidates."""
    first = name.split()[0].lower() if name.split() else ""
    if first in _FEMALE_NAMES or (first.endswith("a") and first not in _MALE_A_NAMES and len(first) > 2):
        return "f"
    return "m"


def actor_kind(actor: Actor) -> str:
    if actor.id == AUTHOR:
        return GROUP
    if "(" in actor.name or actor.name.startswith("The ") or _GROUP_ROLE.search(actor.role):
        return GROUP
    words = actor.name.split()
    return PERSON if len(words) >= 2 else GROUP


class ActorIndex:
    """The registry compiled for fast matching; shared by all articles."""

    def __init__(self, registry: Registry, nlp):
        from spacy.matcher import PhraseMatcher

        self.registry = registry
        self.nlp = nlp
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.patterns: dict[int, tuple[str, tuple[str, ...]]] = {}
        self.info: dict[str, ActorInfo] = {}
        for actor in registry.actors.values():
            if actor.id == AUTHOR:
                continue
            kind = actor_kind(actor)
            titles = " | ".join([actor.role.lower(), *(a.lower() for a in actor.aliases)])
            self.info[actor.id] = ActorInfo(
                actor.id,
                actor.side,
                kind,
                guess_gender(actor.name) if kind == PERSON else "",
                titles,
                actor.name,
            )
            names = {actor.name, *actor.aliases}
            # "the State Department" is also "a State Department official".
            names |= {a[4:] for a in names if a.startswith("the ") and a[4:5].isupper()}
            for alias in names:
                if "(" in alias or not alias.strip():
                    continue
                doc = nlp.make_doc(alias)
                name = f"{actor.id}\t{alias}"
                self.patterns[nlp.vocab.strings.add(name)] = (actor.id, tuple(t.text for t in doc))
                self.matcher.add(name, [doc])
        self.demonyms = self._demonym_table()
        self.side_cues = SideCues.load()
        self._demonym_cache: dict[str, str | None] = {}

    def _demonym_table(self) -> dict[str, str]:
        """Capitalised single names of groups ("Ukraine", "Britain") → actor id."""
        table: dict[str, str] = {}
        for actor in self.registry.actors.values():
            if self.info.get(actor.id) is None or self.info[actor.id].kind != GROUP:
                continue
            for alias in actor.aliases:
                alias = alias.removeprefix("the ").strip()
                if alias[:1].isupper() and not alias.isupper():
                    table.setdefault(alias, actor.id)
        return table

    def demonym_actor(self, word: str) -> str | None:
        """ "Ukrainian" → ukraine, "British" → united_kingdom, when a registry group fits."""
        word = word.strip()
        if word.lower() in _IRREGULAR_DEMONYMS:
            target = _IRREGULAR_DEMONYMS[word.lower()]
            return self.demonyms.get(target)
        stems = [word] + [word[: -len(s)] for s in _DEMONYM_SUFFIXES if word.lower().endswith(s)]
        for stem in stems:
            if len(stem) < 3:
                continue
            for name, actor in self.demonyms.items():
                if name.startswith(stem) and len(name) - len(stem) <= 3:
                    return actor
        return None

    def registry_mentions(self, doc) -> list[Mention]:
        """Registry aliases and demonyms ("Ukrainian officials") in a doc (cached on it)."""
        cached = doc.user_data.get("stance_registry_mentions")
        if cached is None:
            cached = doc.user_data["stance_registry_mentions"] = self._registry_mentions(doc)
        return cached

    def _registry_mentions(self, doc) -> list[Mention]:
        found = []
        for match_id, start, end in self.matcher(doc):
            actor, alias_tokens = self.patterns[match_id]
            if _case_fits(alias_tokens, [t.text for t in doc[start:end]]):
                found.append((start, end, actor))
        # Longest match wins ("Ukraine's president" over "Ukraine"), then the earliest.
        found.sort(key=lambda f: (f[0] - f[1], f[0]))
        taken: set[int] = set()
        mentions = []
        for start, end, actor in found:
            if taken.intersection(range(start, end)):
                continue
            taken.update(range(start, end))
            info = self.info[actor]
            mentions.append(Mention(actor, info.side, start, end, doc[start:end].text, info.kind, True))
        for tok in doc:
            if tok.i in taken or not tok.is_title or tok.tag_ not in ("JJ", "NNP", "NNPS"):
                continue
            actor = self._demonym(tok.text)
            if actor is not None:
                info = self.info[actor]
                mentions.append(Mention(actor, info.side, tok.i, tok.i + 1, tok.text, info.kind, True))
        return sorted(mentions, key=lambda m: m.start)

    def _demonym(self, word: str) -> str | None:
        if word not in self._demonym_cache:
            # Only adjectives of nationality ("-an", "-ish", "-ese", ...), not every name.
            looks = word.lower() in _IRREGULAR_DEMONYMS or word.endswith(("an", "ish", "ese", "i"))
            self._demonym_cache[word] = self.demonym_actor(word) if looks else None
        return self._demonym_cache[word]

    def recognise(self, docs: list, everywhere: bool = False) -> int:
        """Run the entity recogniser where it is needed; returns on how many docs it ran.

        Names the registry lacks matter where they can hold a position: in the subject of
        a verb, an apposition or "according to ...". Only the sentences with such an
        unknown proper noun are run through NER (``everywhere=True``: every paragraph,
        whole): NER costs as much as the rest of parsing together, and a fifth of the
        paragraphs hold such a sentence.
        """
        if "ner" not in self.nlp.pipe_names:
            return 0
        from spacy.tokens import Span

        if everywhere:
            for _ in self.nlp.get_pipe("ner").pipe(docs, batch_size=128):
                pass
            return len(docs)
        todo = [(d, s) for d in docs for s in entity_sentences(d, self.registry_mentions(d))]
        found = self.nlp.get_pipe("ner").pipe((s.as_doc() for _, s in todo), batch_size=128)
        for (doc, sent), part in zip(todo, found, strict=True):
            ents = [Span(doc, sent.start + e.start, sent.start + e.end, label=e.label) for e in part.ents]
            doc.set_ents(ents, default="unmodified")
        return len({id(d) for d, _ in todo})


_NAME_PATH = {"compound", "flat", "poss", "amod", "conj", "cc", "prep", "pobj", "nmod", "punct"}


def entity_sentences(doc, mentions: list[Mention]) -> list:
    """The sentences of a doc where a proper noun the registry does not know stands where
    a holder would."""
    covered = {i for m in mentions for i in range(m.start, m.end)}
    found = []
    for tok in doc:
        if tok.pos_ != "PROPN" or tok.i in covered or (found and tok.i < found[-1].end):
            continue
        cur = tok
        for _ in range(8):
            if cur.i in covered:  # a title of a known name: "Vice President JD Vance"
                break
            if cur.dep_ in ("nsubj", "nsubjpass", "appos", "agent") or (
                cur.dep_ == "pobj" and cur.head.head.lower_ == "according"
            ):
                found.append(tok.sent)
                break
            if cur.dep_ not in _NAME_PATH or cur.head.i == cur.i:
                break
            cur = cur.head
    return found


def needs_entities(doc, mentions: list[Mention]) -> bool:
    """Whether a proper noun the registry does not know stands where a holder would."""
    return bool(entity_sentences(doc, mentions))


def _case_fits(alias: tuple[str, ...], text: list[str]) -> bool:
    """Capitalised alias words need a capital in the text; acronyms need capitals."""
    for a, t in zip(alias, text, strict=False):
        if len(a) > 1 and a.isupper() and a.isalpha():
            # "US", "UK", "EU" only in capitals; longer acronyms also in title case ("Nato").
            if not (t.isupper() or (len(a) >= 4 and t[:1].isupper())):
                return False
        elif a[:1].isupper() and not t[:1].isupper():
            return False
    return True


@dataclass
class ArticleActors:
    """Actors of one article: registry actors plus the new ones found so far."""

    index: ActorIndex
    new: dict[str, NewActor] = field(default_factory=dict)
    _by_name: dict[str, str] = field(default_factory=dict)  # lower-cased name or surname → id

    def info(self, actor_id: str) -> ActorInfo:
        if actor_id in self.index.info:
            return self.index.info[actor_id]
        new = self.new.get(actor_id)
        if new is None:
            return ActorInfo(actor_id, self.index.registry.side_of(actor_id), GROUP)
        gender = guess_gender(new.name) if new.kind == PERSON else ""
        return ActorInfo(new.id, new.side, new.kind, gender, f"{new.role.lower()} | {new.name.lower()}", new.name)

    def side_of(self, actor_id: str) -> str:
        return self.info(actor_id).side

    def find(self, doc) -> list[Mention]:
        """All mentions in a paragraph doc, in text order."""
        mentions = self.index.registry_mentions(doc)
        for ent in doc.ents:
            # "the Kyiv Institute" is an organisation of its own, not a mention of Kyiv.
            inside = [m for m in mentions if ent.start <= m.start and m.end <= ent.end]
            if (
                ent.label_ == "ORG"
                and inside
                and all(m.kind != PERSON for m in inside)
                and not any(m.start <= ent.root.i < m.end for m in inside)
            ):
                mentions = [m for m in mentions if m not in inside]
        taken = set()
        for m in mentions:
            taken.update(range(m.start, m.end))
        for ent in doc.ents:
            kind = _NEW_LABELS.get(ent.label_)
            if kind is None or taken.intersection(range(ent.start, ent.end)):
                continue
            mention = self._entity_mention(ent, kind, mentions)
            if mention is not None:
                mentions.append(mention)
                taken.update(range(ent.start, ent.end))
        return sorted(mentions, key=lambda m: m.start)

    def _entity_mention(self, ent, kind: str, known: list[Mention]) -> Mention | None:
        tokens = [t for t in ent if t.is_alpha or t.text in {"-", "."} or "-" in t.text]
        while tokens and (tokens[0].lower_ in {"the", "a", "an"} or tokens[0].is_punct):
            tokens = tokens[1:]
        while tokens and (tokens[-1].lower_ in {"'s", "’s"} or tokens[-1].is_punct):
            tokens = tokens[:-1]
        if not tokens or len(tokens) > 8 or not any(t.is_alpha for t in tokens):
            return None
        name = " ".join(t.text for t in tokens)
        start, end = tokens[0].i, tokens[-1].i + 1
        if ent.label_ in ("NORP", "GPE") and len(tokens) == 1:
            actor = (
                self.index.demonym_actor(name) if ent.label_ == "NORP" or name.endswith(("an", "ish", "ese")) else None
            )
            if actor is not None:
                info = self.index.info[actor]
                return Mention(actor, info.side, start, end, name, info.kind, True)
        actor_id = self._new_actor(name, kind, ent)
        new = self.new[actor_id]
        if new.side == "other":
            # Each mention may say more: "Grushko" first, "Russia's Grushko" later.
            side = infer_side(ent, known, self.index.side_cues)
            if side is not None:
                new.side, new.side_inferred = side, True
        return Mention(actor_id, new.side, start, end, name, new.kind, False)

    def _new_actor(self, name: str, kind: str, ent) -> str:
        key = name.lower()
        if key in self._by_name:
            return self._by_name[key]
        words = name.split()
        if kind == PERSON:
            surname = words[-1].lower()
            if surname in self._by_name:  # "Marchenko" after "Olena Marchenko"
                self._by_name[key] = self._by_name[surname]
                return self._by_name[key]
            slug = slugify(words[-1])
            if self._taken(slug, name):
                slug = slugify(name)
        else:
            slug = slugify(name)
        base, n = slug, 2
        while self._taken(slug, name):
            slug, n = f"{base}_{n}", n + 1
        if slug not in self.new:
            self.new[slug] = NewActor(slug, name, "other", kind, _apposition(ent) if kind == PERSON else "")
        self._by_name[key] = slug
        if kind != PLACE and len(words) > 1:
            # A later bare "Sandu" or "Commission" is the same actor, whichever label the
            # entity recogniser gave each mention (it often calls an unfamiliar name an ORG).
            self._by_name.setdefault(words[-1].lower(), slug)
        return slug

    def _taken(self, slug: str, name: str) -> bool:
        if slug in self.index.registry.actors:
            return True
        other = self.new.get(slug)
        return (
            other is not None
            and other.name.lower() != name.lower()
            and not other.name.lower().endswith(" " + name.lower())
        )


def _apposition(ent) -> str:
    """ "Olena Marchenko, an analyst at the Kyiv Institute" → "analyst at the kyiv institute"."""
    root = ent.root
    for child in root.children:
        if child.dep_ == "appos":
            return " ".join(t.lower_ for t in child.subtree if not t.is_punct)[:120]
    return ""
