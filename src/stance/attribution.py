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

from dataclasses import dataclass, field

from .actors import GROUP, PERSON, PLACE, ArticleActors, Mention
from .config import AUTHOR
from .segmentation import Sentence

SPEECH_VERBS = frozenset("""
say tell add write post tweet state claim note stress insist warn argue signal concede
acknowledge admit deny reiterate repeat announce declare explain comment respond reply
answer remark suggest maintain assert contend emphasise emphasize underline caution
predict vow pledge promise believe think accuse complain confirm quip describe call brand
dismiss retort counter recall hint indicate observe agree disagree tell""".split())
POSITION_VERBS = frozenset("""
demand reject propose refuse accept welcome oppose support back endorse urge offer want
seek push press favour favor veto block resist object condemn praise hail embrace rule
decline approve advocate spurn rebuff insist require prefer plan intend threaten
guarantee commit lobby champion""".split())
OBLIGATION = frozenset({"should", "must", "ought", "shall"})
TITLE_NOUNS = {
    "president": ("president",), "minister": ("minister",), "premier": ("prime minister",),
    "chancellor": ("chancellor",), "spokesman": ("spokes",), "spokeswoman": ("spokes",),
    "spokesperson": ("spokes",), "envoy": ("envoy",), "secretary": ("secretary",),
    "leader": ("president", "prime minister", "chancellor", "leader"), "ambassador": ("ambassador",),
    "negotiator": ("negotiator",), "aide": ("aide",), "adviser": ("advis",), "advisor": ("advis",),
    "commander": ("commander",), "chief": ("chief", "head"), "analyst": ("analyst",),
    "professor": ("professor",), "researcher": ("research",), "expert": ("expert", "analyst"),
    "diplomat": ("diplomat", "foreign minister", "foreign policy"), "speaker": ("speaker",),
    "head": ("head",), "pope": ("pope",), "general": ("general", "commander"),
}
_QUOTE_OPEN = {"“", "«", "„", "‘"}
_QUOTE_CLOSE = {"”", "»", "’"}
_STRAIGHT = {'"', "''", "``"}
_MIN_QUOTE_TOKENS = 4  # shorter quoted bits without a speech verb are scare quotes


@dataclass(frozen=True)
class Holder:
    """Who holds the positions of a sentence, and how the pipeline found them."""

    actor: str
    side: str
    method: str  # quote | reported | subject | coreference | author
    words: str = ""  # the words that named the holder ("he", "the Kremlin spokesman")


@dataclass
class _Quotes:
    inside: set[int] = field(default_factory=set)  # doc token indices inside quotation marks
    starts_inside: bool = False
    ends_inside: bool = False


@dataclass
class _Found:
    """A holder found from a verb: the actor and how it was named."""

    actor: str
    via: str  # name | coref | author
    words: str


def quote_marks(sentences: list[Sentence]) -> list[_Quotes]:
    """Which tokens of each sentence stand inside quotation marks, carried across sentences."""
    out: list[_Quotes] = []
    open_mark: str | None = None
    paragraph = None
    for sent in sentences:
        q = _Quotes()
        tokens = list(sent.span)
        if sent.paragraph != paragraph:
            paragraph = sent.paragraph
            # A quote runs on into the next paragraph only if that paragraph reopens it.
            if open_mark and not (tokens and (tokens[0].text in _QUOTE_OPEN or tokens[0].text in _STRAIGHT)):
                open_mark = None
            elif open_mark and tokens:
                tokens = tokens[1:]
        q.starts_inside = open_mark is not None
        for tok in tokens:
            t = tok.text
            if t in _STRAIGHT:
                open_mark = None if open_mark else '"'
            elif t in _QUOTE_OPEN and not (t == "‘" and open_mark):
                open_mark = t
            elif t in _QUOTE_CLOSE and open_mark and (t != "’" or open_mark == "‘"):
                open_mark = None
            elif open_mark:
                q.inside.add(tok.i)
        q.ends_inside = open_mark is not None
        out.append(q)
    return out


class _Memory:
    """What coreference looks back on: recent mentions and recent holders."""

    def __init__(self, actors: ArticleActors):
        self.actors = actors
        self.mentions: list[str] = []  # actor ids in order of mention
        self.holders: list[tuple[int, list[str]]] = []  # (sentence, non-author holder ids)

    def observe(self, mentions: list[Mention]) -> None:
        self.mentions.extend(m.actor for m in mentions)
        del self.mentions[:-200]

    def held(self, index: int, holders: list[Holder]) -> None:
        ids = [h.actor for h in holders if h.actor != AUTHOR]
        if ids:
            self.holders.append((index, ids))
            del self.holders[:-20]

    def _fits(self, actor: str, kinds: tuple[str, ...], gender: str = "") -> bool:
        info = self.actors.info(actor)
        return info.kind in kinds and (not gender or not info.gender or info.gender == gender)

    def pronoun(self, word: str, index: int, earlier: list[Mention]) -> str | None:
        """Actor a subject pronoun refers to: current-sentence mentions before it, then the
        most recent holders (within three sentences), then the most recent mentions."""
        if word in {"he", "she"}:
            kinds, gender = (PERSON,), "m" if word == "he" else "f"
        else:
            kinds, gender = (GROUP,), ""
        recent_holders = [a for i, ids in reversed(self.holders) if index - i <= 3 for a in ids]
        pools = [[m.actor for m in reversed(earlier)], recent_holders, list(reversed(self.mentions))]
        for g in (gender, ""):
            for pool in pools:
                for actor in pool:
                    if self._fits(actor, kinds, g):
                        return actor
            if not gender:
                break
        if word == "they" and recent_holders:
            return recent_holders[0]
        return None

    def title(self, head: str, modifiers: list[str], earlier: list[Mention]) -> str | None:
        """Actor "the president" / "the foreign minister" refers to: the last one whose role
        or aliases contain the title."""
        keys = TITLE_NOUNS.get(head)
        if keys is None:
            return None
        for actor in [m.actor for m in reversed(earlier)] + list(reversed(self.mentions)):
            info = self.actors.info(actor)
            if info.kind != PERSON or not info.titles:
                continue
            if any(k in info.titles for k in keys) and all(m in info.titles for m in modifiers):
                return actor
        return None


class _SentenceParse:
    """Verb-level holders of one sentence (everything but quotation speakers)."""

    def __init__(self, sent: Sentence, mentions: list[Mention], quotes: _Quotes, memory: _Memory):
        self.sent, self.mentions, self.quotes, self.memory = sent, mentions, quotes, memory
        self.by_token = {i: m for m in mentions for i in range(m.start, m.end)}
        self.speech: list[_Found] = []  # subjects of verbs of saying (quote speakers)
        self.holders: list[Holder] = []
        self.has_speech_verb = False
        self._parse()

    # -- verbs ------------------------------------------------------------------------
    def _parse(self) -> None:
        span = self.sent.span
        resolved: dict[int, bool] = {}  # verb token index -> gave a holder
        for tok in sorted(span, key=_depth):
            if tok.i in self.quotes.inside:
                continue
            if tok.lower_ == "according" and any(c.lower_ == "to" for c in tok.children):
                objs = [g for c in tok.children if c.lower_ == "to" for g in c.children if g.dep_ == "pobj"]
                found = [f for o in objs for f in self.resolve(o)]
                self._add(found, "reported", speech=True)
                self.has_speech_verb = True
                continue
            lemma = tok.lemma_.lower()
            if tok.pos_ not in ("VERB", "AUX") or (lemma not in SPEECH_VERBS and lemma not in POSITION_VERBS):
                continue
            if self._embedded(tok, resolved):
                continue
            speech = lemma in SPEECH_VERBS
            self.has_speech_verb |= speech
            found = [f for s in _subjects(tok) for f in self.resolve(s)]
            resolved[tok.i] = bool(found)
            self._add(found, "reported" if speech else "subject", speech=speech)
        self._main_clause(span, resolved)

    def _main_clause(self, span, resolved: dict[int, bool]) -> None:
        """Subject of the main verb(s) when it is a known actor: "Moscow wants all of Donbas"."""
        root = span.root
        for verb in [root, *root.conjuncts]:
            if verb.i in resolved or verb.i in self.quotes.inside or verb.pos_ not in ("VERB", "AUX"):
                continue
            subjects = [c for c in verb.children if c.dep_ == "nsubj"]
            if not subjects:
                continue
            if any(c.dep_ == "aux" and c.lemma_.lower() in OBLIGATION for c in verb.children):
                # "Europe must send troops": the writer's demand, not Europe's position.
                self._add([_Found(AUTHOR, "author", "")], "author")
                continue
            found = [f for s in subjects for f in self.resolve(s, possessive_only=True)]
            found = [f for f in found if f.actor == AUTHOR or self.memory.actors.info(f.actor).kind != PLACE]
            self._add(found, "subject")

    def _embedded(self, tok, resolved: dict[int, bool]) -> bool:
        """Inside the complement of a verb of saying that already has a holder."""
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
        earlier = [m for m in self.mentions if m.end <= tok.i]
        if word in {"he", "she", "they"}:
            actor = self.memory.pronoun(word, self.sent.index, earlier)
            return [_Found(actor, "coref", tok.text)] if actor else []
        if word in {"we", "i"}:
            return [_Found(AUTHOR, "author", tok.text)]
        if tok.pos_ not in ("NOUN", "PROPN"):
            return []
        # Actors named inside the subject: "Putin's spokesman", "a senior US official".
        inner = self._inner_mentions(tok, possessive_only)
        if inner:
            return [_Found(m.actor, "name", m.text) for m in inner]
        if any(c.dep_ == "det" and c.lower_ in {"the", "this", "that"} for c in tok.children):
            modifiers = [c.lower_ for c in tok.children if c.dep_ in ("amod", "compound")]
            actor = self.memory.title(tok.lemma_.lower(), modifiers, earlier)
            if actor:
                words = " ".join(t.text for t in tok.subtree if t.i <= tok.i)
                return [_Found(actor, "coref", words)]
        return []

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


def attribute(sentences: list[Sentence], mentions: list[list[Mention]], actors: ArticleActors
              ) -> list[list[Holder]]:
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
            memory.observe(mentions[k])
        quoted = [_is_quotation(p) for p in parses]
        speaker: list[_Found] = []
        if any(quoted):
            speaker = next((p.speech for p in parses if p.speech), [])
            if not speaker and previous and i - previous[0] <= 1:
                # '... Zelensky was defiant. "We will never ..."': the last holder speaks on.
                speaker = [_Found(a, "name", "") for a in previous[1]]
            if not speaker:
                last = memory.pronoun("he", i, [])
                speaker = [_Found(last, "coref", "")] if last else []
        for k, parse in zip(range(i, j + 1), parses):
            holders: list[Holder] = []
            if quoted[k - i] or (any(quoted) and (quotes[k].starts_inside or quotes[k].ends_inside)):
                holders += [Holder(f.actor, actors.side_of(f.actor), "author" if f.actor == AUTHOR else "quote",
                                   f.words) for f in speaker]
            holders += parse.holders
            if not holders:
                holders = [author]
            out[k] = _unique(holders)
            memory.held(k, out[k])
        i = j + 1
    return out


def _is_quotation(parse: _SentenceParse) -> bool:
    q = parse.quotes
    if q.starts_inside or q.ends_inside:
        return True
    return len(q.inside) >= _MIN_QUOTE_TOKENS or (bool(q.inside) and parse.has_speech_verb)


def _subjects(verb) -> list:
    subs = [c for c in verb.children if c.dep_ == "nsubj"]
    for c in verb.children:
        if c.dep_ == "agent":  # "the plan was rejected by Moscow"
            subs += [g for g in c.children if g.dep_ == "pobj"]
    return subs


def _depth(tok) -> int:
    d = 0
    while tok.head.i != tok.i and d < 50:
        tok, d = tok.head, d + 1
    return d


def _unique(holders: list[Holder]) -> list[Holder]:
    seen, out = set(), []
    for h in holders:
        if h.actor not in seen:
            seen.add(h.actor)
            out.append(h)
    # The author is a holder only when no one else is.
    rest = [h for h in out if h.actor != AUTHOR]
    return rest or out
