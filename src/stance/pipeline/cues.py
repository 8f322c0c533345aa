"""Language cues of who holds a position: verbs of saying and of positions, titles,
quotation marks and the bits of syntax attribution reads.

In: spaCy tokens and sentences. Out: word lists, which tokens stand inside quotation
marks (carried across sentences), and small syntactic tests (a hypothetical clause, a
relative clause, an obligation, the subjects of a verb). Shared by the attribution rules
and the features of the learned holder model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .segmentation import Sentence

SPEECH_VERBS = frozenset(
    """
say tell add write post tweet state claim note stress insist warn argue signal concede
acknowledge admit deny reiterate repeat announce declare explain comment respond reply
answer remark suggest maintain assert contend emphasise emphasize underline caution
predict vow pledge promise believe think accuse complain confirm quip describe call brand
dismiss retort counter recall hint indicate observe agree disagree talk speak assess judge
conclude estimate""".split()
)
POSITION_VERBS = frozenset(
    """
demand reject propose refuse accept welcome oppose support back endorse urge offer want
seek push press favour favor veto block resist object condemn praise hail embrace rule
decline approve advocate spurn rebuff insist require prefer plan intend threaten
guarantee commit lobby champion""".split()
)
OBLIGATION = frozenset({"should", "must", "ought", "shall"})
# Subjects that speak for a country named beside them: "British planners", "officials in Rome".
OFFICIAL_NOUNS = frozenset(
    """
official diplomat source aide planner negotiator leader government minister spokesman
spokeswoman spokesperson envoy delegation representative lawmaker commander general
capital""".split()
)
TITLE_NOUNS = {
    "president": ("president",),
    "minister": ("minister",),
    "premier": ("prime minister",),
    "chancellor": ("chancellor",),
    "spokesman": ("spokes",),
    "spokeswoman": ("spokes",),
    "spokesperson": ("spokes",),
    "envoy": ("envoy",),
    "secretary": ("secretary",),
    "leader": ("president", "prime minister", "chancellor", "leader"),
    "ambassador": ("ambassador",),
    "negotiator": ("negotiator",),
    "aide": ("aide",),
    "adviser": ("advis",),
    "advisor": ("advis",),
    "commander": ("commander",),
    "chief": ("chief", "head"),
    "analyst": ("analyst", "fellow", "expert", "research"),
    "professor": ("professor",),
    "researcher": ("research", "fellow"),
    "expert": ("expert", "analyst", "fellow"),
    "diplomat": ("diplomat", "foreign minister", "foreign policy"),
    "speaker": ("speaker",),
    "head": ("head",),
    "pope": ("pope",),
    "general": ("general", "commander"),
}
QUOTE_OPEN = {"“", "«", "„", "‘"}
QUOTE_CLOSE = {"”", "»", "’"}
STRAIGHT = {'"', "''", "``"}
MIN_QUOTE_TOKENS = 4  # shorter quoted bits without a speech verb are scare quotes


@dataclass
class Quotes:
    inside: set[int] = field(default_factory=set)  # doc token indices inside quotation marks
    starts_inside: bool = False
    ends_inside: bool = False


def quote_marks(sentences: list[Sentence]) -> list[Quotes]:
    """Which tokens of each sentence stand inside quotation marks, carried across sentences."""
    out: list[Quotes] = []
    open_mark: str | None = None
    paragraph = None
    for sent in sentences:
        q = Quotes()
        tokens = list(sent.span)
        if sent.paragraph != paragraph:
            paragraph = sent.paragraph
            # A quote runs on into the next paragraph only if that paragraph reopens it.
            if open_mark and not (tokens and (tokens[0].text in QUOTE_OPEN or tokens[0].text in STRAIGHT)):
                open_mark = None
            elif open_mark and tokens:
                tokens = tokens[1:]
        q.starts_inside = open_mark is not None
        for tok in tokens:
            t = tok.text
            if t in STRAIGHT:
                open_mark = None if open_mark else '"'
            elif t in QUOTE_OPEN and not (t == "‘" and open_mark):
                open_mark = t
            elif t in QUOTE_CLOSE and open_mark and (t != "’" or open_mark == "‘"):
                open_mark = None
            elif open_mark:
                q.inside.add(tok.i)
        q.ends_inside = open_mark is not None
        out.append(q)
    return out


def hypothetical(verb) -> bool:
    """A clause under "whether"/"if" (or a question): nobody holds what it says."""
    return any(c.dep_ == "mark" and c.lower_ in {"whether", "if"} for c in verb.children)


def in_relative_clause(tok) -> bool:
    cur = tok
    for _ in range(50):
        if cur.dep_ in ("relcl", "acl"):
            return True
        if cur.head.i == cur.i:
            return False
        cur = cur.head
    return False


def obliged(verb) -> bool:
    return any(c.dep_ == "aux" and c.lemma_.lower() in OBLIGATION for c in verb.children)


def subjects(verb, passive: bool = False) -> list:
    deps = ("nsubj", "nsubjpass") if passive else ("nsubj",)
    subs = [c for c in verb.children if c.dep_ in deps]
    for c in verb.children:
        if c.dep_ == "agent":  # "the plan was rejected by Moscow"
            subs += [g for g in c.children if g.dep_ == "pobj"]
    return subs


def depth(tok) -> int:
    d = 0
    while tok.head.i != tok.i and d < 50:
        tok, d = tok.head, d + 1
    return d
