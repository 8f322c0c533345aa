"""Attribute each sentence to the holders of the positions in it.

In: an article's sentences (with their parsed spaCy spans), the actor mentions of each
sentence, and the article's :class:`~stance.actors.ArticleActors`. Out: per sentence, a
list of :class:`Holder` records — who holds the positions and how that was found:

``quote``
    the speaker of a quotation, also over quotes that run across sentences (an opening
    quote mark without a closing one carries the speaker forward, until it closes or a
    paragraph opens without a quote mark);
``reported``
    the subject of a verb of saying ("X said", "said X", "X told reporters", "X wrote on
    Telegram") or the object of "according to X";
``subject``
    the subject of a verb of demanding, rejecting, proposing, insisting, ... or of the
    main verb of the sentence when that subject is a known actor ("Moscow wants ...");
``coreference``
    as the two above, but the holder is named by a pronoun ("he", "she", "they") or a
    title ("the president", "the spokesman"), resolved to the last fitting actor;
``author``
    nobody else holds it: the article's own voice (also "we"/"I" outside quotes, and
    "X should/must ..." without a speaker).

Content embedded under a speaker ("Peskov said Kyiv had rejected ...") belongs to the
speaker, not to the embedded subject; two speakers or subjects in one sentence ("Kyiv
rejected the plan while Moscow welcomed it", "Macron and Starmer said") are both holders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import AUTHOR
from . import cues
from .actors import GROUP, PERSON, PLACE, ArticleActors, Mention
from .cues import (
    MIN_QUOTE_TOKENS,
    OFFICIAL_NOUNS,
    POSITION_VERBS,
    QUOTE_OPEN,
    SPEECH_VERBS,
    STRAIGHT,
    TITLE_NOUNS,
    Quotes,
    depth,
    hypothetical,
    in_relative_clause,
    obliged,
    quote_marks,
)
from .segmentation import Sentence


@dataclass(frozen=True)
class Holder:
    """Who holds the positions of a sentence, and how the pipeline found them."""

    actor: str
    side: str
    method: str  # quote | reported | subject | coreference | author
    words: str = ""  # the words that named the holder ("he", "the Kremlin spokesman")
    confidence: float = 1.0  # the holder model's probability (1.0 for the rules alone)


@dataclass
class _Found:
    """A holder found from a verb: the actor and how it was named."""

    actor: str
    via: str  # name | coref | author
    words: str


class _Memory:
    """What coreference looks back on: recent mentions and recent holders."""

    def __init__(self, actors: ArticleActors):
        self.actors = actors
        self.mentions: list[str] = []  # actor ids in order of mention
        self.holders: list[tuple[int, list[str]]] = []  # (sentence, non-author holder ids)

    def observe(self, mentions: list[Mention]) -> None:
        self.mentions.extend(m.actor for m in mentions)
        del self.mentions[:-200]

    def held(self, index: int, holders: list[Holder], minor: set[str] = frozenset()) -> None:
        ids = [h.actor for h in holders if h.actor != AUTHOR and h.actor not in minor]
        if ids:
            self.holders.append((index, ids))
            del self.holders[:-20]

    def _fits(self, actor: str, kinds: tuple[str, ...], gender: str = "", known: bool = False) -> bool:
        info = self.actors.info(actor)
        if known and actor not in self.actors.index.info:
            return False  # "they" skips names the recogniser guessed to be organisations
        return info.kind in kinds and (not gender or not info.gender or info.gender == gender)

    def pronoun(self, word: str, index: int, earlier: list[Mention]) -> str | None:
        """Actor a subject pronoun refers to: current-sentence mentions before it, then the
        most recent holders (within three sentences), then the most recent mentions."""
        if word in {"he", "she"}:
            kinds, gender = (PERSON,), "m" if word == "he" else "f"
        else:  # they, it ("It said in a statement")
            kinds, gender = (GROUP,), ""
        recent_holders = [a for i, ids in reversed(self.holders) if index - i <= 3 for a in ids]
        pools = [
            [m.actor for m in reversed(earlier)],
            recent_holders,
            list(reversed(self.mentions)),
        ]
        for g in (gender, ""):
            for n, pool in enumerate(pools):
                for actor in pool:
                    if self._fits(actor, kinds, g, known=word == "it" or (word == "they" and n != 1)):
                        return actor
            if not gender:
                break
        if word == "they" and recent_holders:
            return recent_holders[0]
        return None

    def group(self, plural: str, earlier: list[Mention]) -> str | None:
        """Group "the leaders" / "the allies" refers to: the last one mentioned (in this
        sentence, then before it) whose names or role have that word ("European leaders")."""
        word = re.compile(rf"\b{re.escape(plural)}\b")
        for actor in [m.actor for m in reversed(earlier)] + list(reversed(self.mentions)):
            info = self.actors.info(actor)
            if info.kind == GROUP and actor != AUTHOR and word.search(info.titles):
                return actor
        return None

    def spokesbody(self, index: int) -> str | None:
        """ "the official", "the source": the last group that held a position (≤ 3 sentences)."""
        for i, ids in reversed(self.holders):
            if index - i > 3:
                break
            for actor in ids:
                if self.actors.info(actor).kind == GROUP:
                    return actor
        return None

    def title(
        self, head: str, modifiers: list[str], earlier: list[Mention], sides: set[str] | None = None
    ) -> str | None:
        """Actor "the president" / "the foreign minister" refers to: the last one whose role
        or aliases contain the title (and who is on one of ``sides``, if given)."""
        keys = TITLE_NOUNS.get(head)
        if keys is None:
            return None
        for actor in [m.actor for m in reversed(earlier)] + list(reversed(self.mentions)):
            info = self.actors.info(actor)
            if info.kind != PERSON or not info.titles or (sides and info.side not in sides):
                continue
            if any(k in info.titles for k in keys) and all(m in info.titles for m in modifiers):
                return actor
        return None


class _SentenceParse:
    """Verb-level holders of one sentence (everything but quotation speakers)."""

    def __init__(self, sent: Sentence, mentions: list[Mention], quotes: Quotes, memory: _Memory):
        self.sent, self.mentions, self.quotes, self.memory = sent, mentions, quotes, memory
        self.by_token = {i: m for m in mentions for i in range(m.start, m.end)}
        self.speech: list[_Found] = []  # subjects of verbs of saying (quote speakers)
        self.holders: list[Holder] = []
        self.has_speech_verb = False
        self.speech_of: dict[int, list[_Found]] = {}  # verb token -> its holders
        self.speakers_at: list[tuple[int, list[_Found]]] = []  # (verb of saying, its speakers)
        self.minor: set[str] = set()  # holders named only in relative clauses
        self._parse()

    # -- verbs ------------------------------------------------------------------------
    def _parse(self) -> None:
        span = self.sent.span
        resolved: dict[int, bool] = {}  # verb token index -> gave a holder
        # Only verbs (and "according") can name a holder; heads come before their dependents.
        verbs = [t for t in span if t.pos_ in ("VERB", "AUX") or t.lower_ == "according"]
        for tok in sorted(verbs, key=depth):
            if tok.i in self.quotes.inside:
                continue
            if tok.lower_ == "according" and any(c.lower_ == "to" for c in tok.children):
                objs = [g for c in tok.children if c.lower_ == "to" for g in c.children if g.dep_ == "pobj"]
                found = [f for o in objs for f in self.resolve(o)]
                self._add(found, "reported", speech=True)
                self.speakers_at.append((tok.i, found))
                self.has_speech_verb = True
                continue
            lemma = tok.lemma_.lower()
            if tok.pos_ not in ("VERB", "AUX") or (lemma not in SPEECH_VERBS and lemma not in POSITION_VERBS):
                continue
            if self._embedded(tok, resolved) or hypothetical(tok):
                continue
            speech = lemma in SPEECH_VERBS
            self.has_speech_verb |= speech
            if obliged(tok):
                # "Europe should offer guarantees": the writer's demand, not Europe's position.
                self._add([_Found(AUTHOR, "author", "")], "author")
                resolved[tok.i] = False
                continue
            subjects = cues.subjects(tok)
            if not subjects and tok.dep_ in ("conj", "advcl", "xcomp"):
                if tok.head.i in resolved:
                    # "... warned X and said Y", "... rejected X, saying Y": the same holder.
                    resolved[tok.i] = resolved[tok.head.i]
                    if speech and resolved[tok.i]:
                        self.speech += [f for f in self.speech_of.get(tok.head.i, [])]
                        self.speakers_at.append((tok.i, self.speech_of.get(tok.head.i, [])))
                    continue
                # "Officials in Rome have gone further, arguing that ...": the main subject.
                subjects = cues.subjects(tok.head, passive=True)
            if not subjects and tok.dep_ == "acl" and tok.tag_ == "VBD" and tok.head.i == tok.i - 1:
                # "Trump called the plan ..." misparsed as a noun with a clause.
                subjects = [tok.head]
            found = [f for s in subjects for f in self.resolve(s)]
            if not speech:  # "it" demands and proposes: the plan, not an actor
                found = [f for f in found if f.words.lower() != "it"]
            if not found and speech:
                found = self._place_of(tok, subjects)
            resolved[tok.i] = bool(found)
            self.speech_of[tok.i] = found
            # A relative clause ("the truce Putin declared") names a holder, but neither the
            # speaker of the sentence's quotes nor whom the next "he" refers to.
            minor = in_relative_clause(tok)
            self._add(found, "reported" if speech else "subject", speech=speech and not minor)
            if speech and not minor and found:
                self.speakers_at.append((tok.i, found))
            if minor:
                self.minor.update(f.actor for f in found)
        self._main_clause(span, resolved)

    def _main_clause(self, span, resolved: dict[int, bool]) -> None:
        """Subject of the main verb(s) when it is a known actor: "Moscow wants all of Donbas"."""
        root = span.root
        for verb in [root, *root.conjuncts]:
            if verb.i in resolved or verb.i in self.quotes.inside or verb.pos_ not in ("VERB", "AUX"):
                continue
            subjects = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")]
            if not subjects:
                continue
            if obliged(verb):
                # "Europe must send troops": the writer's demand, not Europe's position.
                self._add([_Found(AUTHOR, "author", "")], "author")
                continue
            # Only named actors here: "he does not get a veto" in an op-ed is the writer's
            # judgement about him, not his position.
            found = [
                f for s in subjects for f in self.resolve(s, possessive_only=s.lemma_.lower() not in OFFICIAL_NOUNS)
            ]
            found = [
                f
                for f in found
                if f.via != "coref" and (f.actor == AUTHOR or self.memory.actors.info(f.actor).kind != PLACE)
            ]
            self._add(found or self._place_of(verb, subjects), "subject")

    def _place_of(self, verb, subjects) -> list[_Found]:
        """ "In Kyiv, officials said ...": the place the officials speak for."""
        if not any(s.lemma_.lower() in OFFICIAL_NOUNS for s in subjects):
            return []
        for prep in verb.children:
            if prep.dep_ == "prep" and prep.lower_ in {"in", "from"}:
                for obj in prep.children:
                    m = self.by_token.get(obj.i)
                    if m is not None and m.known:
                        return [_Found(m.actor, "name", m.text)]
        return []

    def _embedded(self, tok, resolved: dict[int, bool]) -> bool:
        """Inside the complement of a verb of saying that already has a holder (a clause
        joined by "and" with its own named subject is not: "Moscow says ..., and
        Zakharova called ...")."""
        if tok.dep_ in ("conj", "advcl") and any(c.dep_ == "nsubj" and c.i in self.by_token for c in tok.children):
            return False
        cur = tok
        while cur.head.i != cur.i and cur.head in self.sent.span:
            if cur.dep_ in ("ccomp", "xcomp", "parataxis") and resolved.get(cur.head.i):
                return True
            cur = cur.head
        return False

    def _add(self, found: list[_Found], method: str, speech: bool = False) -> None:
        for f in found:
            how = "author" if f.via == "author" else "coreference" if f.via == "coref" else method
            self.holders.append(Holder(f.actor, self.memory.actors.side_of(f.actor), how, f.words))
            if speech:
                self.speech.append(f)

    # -- subjects ---------------------------------------------------------------------
    def resolve(self, token, possessive_only: bool = False) -> list[_Found]:
        """Actors a subject (with its conjuncts) names."""
        found: list[_Found] = []
        for tok in [token, *token.conjuncts]:
            if tok.i in self.quotes.inside:
                continue
            f = self._resolve_one(tok, possessive_only)
            found.extend(x for x in f if x.actor not in {y.actor for y in found})
        return found

    def _resolve_one(self, tok, possessive_only: bool) -> list[_Found]:
        mention = self.by_token.get(tok.i)
        if mention is not None:
            return [_Found(mention.actor, "name", mention.text)]
        word = tok.lower_
        earlier = [m for m in self.mentions if m.end <= tok.i and m.start not in self.quotes.inside]
        if word in {"he", "she", "they", "it"}:
            actor = self.memory.pronoun(word, self.sent.index, earlier)
            return [_Found(actor, "coref", tok.text)] if actor else []
        if word in {"we", "i"}:
            return [_Found(AUTHOR, "author", tok.text)]
        if tok.pos_ == "PRON" and word not in {
            "some",
            "many",
            "most",
            "those",
            "others",
            "all",
            "both",
        }:
            return []
        for child in tok.children:
            m = self.by_token.get(child.i)
            if child.dep_ == "appos" and m is not None and m.kind == PERSON:
                return [_Found(m.actor, "name", m.text)]
        inner = self._inner_mentions(tok, possessive_only)
        if tok.pos_ in ("NOUN", "PROPN") and any(
            c.dep_ == "det" and c.lower_ in {"the", "this", "that"} for c in tok.children
        ):
            # "the president", "the Russian leader", "the US envoy": a title refers back to
            # the last fitting person (of the named side, if a country is named).
            inner_sides = {self.memory.actors.side_of(m.actor) for m in inner if m.kind != PERSON}
            modifiers = [c.lower_ for c in tok.children if c.dep_ in ("amod", "compound") and c.i not in self.by_token]
            actor = self.memory.title(tok.lemma_.lower(), modifiers, earlier, inner_sides)
            if not actor and not inner and tok.tag_ == "NNS":
                actor = self.memory.group(tok.lower_, earlier)  # "the leaders", "the allies"
            if not actor and not inner and tok.lemma_.lower() in {"official", "source", "diplomat"}:
                actor = self.memory.spokesbody(self.sent.index)
            if actor and not any(m.kind == PERSON for m in inner):
                words = " ".join(t.text for t in tok.subtree if t.i <= tok.i)
                return [_Found(actor, "coref", words)]
        # Actors named inside the subject: "Putin's spokesman", "a senior US official",
        # "some in Washington".
        return [_Found(m.actor, "name", m.text) for m in inner]

    def _inner_mentions(self, tok, possessive_only: bool) -> list[Mention]:
        allowed = {"poss"} if possessive_only else {"poss", "compound", "amod", "nmod", "prep", "pobj", "npadvmod"}
        out, seen = [], set()
        stack = [c for c in tok.children if c.dep_ in allowed]
        while stack:
            t = stack.pop()
            m = self.by_token.get(t.i)
            if m is not None and m.actor not in seen:
                seen.add(m.actor)
                out.append(m)
            stack.extend(c for c in t.children if c.dep_ in allowed | {"pobj", "conj"})
        return sorted(out, key=lambda m: m.start)


def attribute(sentences: list[Sentence], mentions: list[list[Mention]], actors: ArticleActors) -> list[list[Holder]]:
    """Holders of every sentence of one article (never empty: at least ``author``)."""
    quotes = quote_marks(sentences)
    memory = _Memory(actors)
    author = Holder(AUTHOR, actors.side_of(AUTHOR), "author")
    out: list[list[Holder]] = [[] for _ in sentences]
    i, n = 0, len(sentences)
    while i < n:
        j = i
        while j + 1 < n and quotes[j].ends_inside and quotes[j + 1].starts_inside:
            j += 1
        parses = []
        previous = memory.holders[-1] if memory.holders else None
        for k in range(i, j + 1):
            parses.append(_SentenceParse(sentences[k], mentions[k], quotes[k], memory))
            memory.observe([m for m in mentions[k] if m.start not in quotes[k].inside])
        quoted = [_is_quotation(p) for p in parses]
        speaker: list[_Found] = []
        if any(quoted):
            # The quote's owner: a speaker in the run, else the run's own subject ("Moscow
            # rejected what it called 'a trap'"), else — for a quote that opens the
            # sentence — the holder just before it or the last person named.
            speaker = next((p.speech for p in parses if p.speech), [])
            if not speaker:
                speaker = next(
                    (
                        [_Found(h.actor, "name", h.words) for h in p.holders if h.actor != AUTHOR]
                        for p in parses
                        if any(h.actor != AUTHOR for h in p.holders)
                    ),
                    [],
                )
            if not speaker and _opens_with_quote(parses[0]):
                if previous and i - previous[0] <= 1:
                    # '... Zelensky was defiant. "We will never ..."': the last holder speaks on.
                    speaker = [_Found(a, "name", "") for a in previous[1]]
                else:
                    last = memory.pronoun("he", i, [])
                    speaker = [_Found(last, "coref", "")] if last else []
        # The sentences after the first speak on in the quote left open there: its speaker is
        # whoever introduced that quote ("Lavrov called it unacceptable, and Lukashenko says,
        # 'Russia will never ...' / 'Russia is against ...'" — the second is Lukashenko's).
        continued = _opener(parses[0], quotes[i]) if j > i else None
        for k, parse in zip(range(i, j + 1), parses, strict=True):
            holders: list[Holder] = []
            if quoted[k - i] or (any(quoted) and (quotes[k].starts_inside or quotes[k].ends_inside)):
                holders += [
                    Holder(
                        f.actor,
                        actors.side_of(f.actor),
                        "author" if f.actor == AUTHOR else "quote",
                        f.words,
                    )
                    for f in (continued if k > i and continued else speaker)
                ]
            holders += parse.holders
            if not holders:
                holders = [author]
            out[k] = _unique(holders)
            memory.held(k, out[k], parse.minor)
        i = j + 1
    return out


def _opener(parse: _SentenceParse, quotes: Quotes) -> list[_Found] | None:
    """The speakers of the quote still open at the end of a sentence, where the sentence
    has speakers at more than one verb of saying: those of the verb nearest the quote's
    opening mark. None where there is no choice to make."""
    if len({i for i, _ in parse.speakers_at}) < 2 or not quotes.inside:
        return None
    start = max(quotes.inside)
    while start - 1 in quotes.inside:
        start -= 1
    mark = start - 1  # the opening quotation mark
    nearest = min(parse.speakers_at, key=lambda vf: (abs(vf[0] - mark), vf[0] > mark))
    return nearest[1]


def _opens_with_quote(parse: _SentenceParse) -> bool:
    first = parse.sent.span[0]
    return parse.quotes.starts_inside or first.text in QUOTE_OPEN or first.text in STRAIGHT


def _is_quotation(parse: _SentenceParse) -> bool:
    q = parse.quotes
    if q.starts_inside or q.ends_inside:
        return True
    return len(q.inside) >= MIN_QUOTE_TOKENS or (bool(q.inside) and parse.has_speech_verb)


def _unique(holders: list[Holder]) -> list[Holder]:
    seen, out = set(), []
    for h in holders:
        if h.actor not in seen:
            seen.add(h.actor)
            out.append(h)
    # The author is a holder only when no one else is.
    rest = [h for h in out if h.actor != AUTHOR]
    return rest or out
