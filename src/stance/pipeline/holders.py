"""Who holds the position: holder candidates per sentence, and a learned model that picks.

In: an article's sentences (parsed), their actor mentions, the attribution rules' holders
and the article's actors. Out: per sentence, :class:`Candidate` records — every actor that
could hold the sentence's positions, each with the features that say how it is tied to the
sentence — and, with a trained :class:`HolderModel`, the chosen holders.

Candidates: the actors named in the sentence (registry mentions and new people and
organisations from NER, titles and pronouns as the rules resolve them), the rules' own
holders (quote speakers, subjects, coreference), the speaker of a quote or transcript turn
still open (a label of initials is the person named in full before), the actors of the
previous sentence, the article's recent holders, its main speaker and main person, and
``author``. The rules stay as features; the model decides. It is a logistic
regression over sparse features (how the candidate was found; its syntactic role — the
verb, noun or preposition it hangs from, the role of the first of a coordinated list; the
sentence's shape — quotes, speaker labels, questions, first-person plural, headline-like —
and the article's voice — how much of it quotes, reports, asks or says "I" — crossed with
the kind of candidate; the candidate's share of the article's quoted and reported
sentences), trained on the labelled sentences whose gold holder it must pick out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import AUTHOR
from .actors import ArticleActors, Mention
from .attribution import Holder
from .cues import POSITION_VERBS, SPEECH_VERBS, quote_marks
from .segmentation import Sentence

RECENT = 3  # how many earlier holders of the article stay candidates
VOICE_MIN_SENTENCES = 6  # shorter articles get no article-voice features
_LABEL = re.compile(r"^\s*(?:[A-Z][A-Z.'-]+\s){0,4}[A-Z][A-Z.'-]+\s?:")  # "PRESIDENT ZELENSKY:"
_INITIALS = re.compile(r"^\s*([A-Z]{2,3})\s?:")  # "HD:" for a Hervé Delaunoy named before
_PRONOUNS = {"he", "she", "they", "we", "i", "it"}
_SPOKEN = ("quote", "reported")  # the rule methods that make an actor a speaker of the article


@dataclass
class Candidate:
    """One actor that could hold the positions of a sentence, and why."""

    actor: str
    side: str
    features: dict[str, float] = field(default_factory=dict)
    method: str = "context"  # how it was found, for the finding's ``attribution`` field
    words: str = ""

    def add(self, *names: str) -> None:
        for n in names:
            self.features[n] = 1.0


def _sentence_shape(sent: Sentence, quotes) -> list[str]:
    """Features of the sentence alone (crossed with the candidate's kind later)."""
    span = sent.span
    toks = [t for t in span if not t.is_space]
    words = [t.lower_ for t in toks]
    outside = [t for t in toks if t.i not in quotes.inside]
    shape = []
    if quotes.starts_inside:
        shape.append("starts_in_quote")
    if quotes.ends_inside:
        shape.append("ends_in_quote")
    if quotes.inside:
        shape.append("has_quote")
        if len(quotes.inside) > 0.6 * max(len(toks), 1):
            shape.append("mostly_quote")
    if any(t.lemma_.lower() in SPEECH_VERBS and t.pos_ == "VERB" for t in outside):
        shape.append("speech_verb")
    if any(t.lemma_.lower() in POSITION_VERBS and t.pos_ == "VERB" for t in outside):
        shape.append("position_verb")
    if not any(t.pos_ in ("VERB", "AUX") for t in toks):
        shape.append("no_verb")
    if len(toks) <= 10:
        shape.append("short")
    if toks and not toks[-1].is_punct:
        shape.append("no_final_punct")
    if _LABEL.match(sent.text):
        shape.append("speaker_label")
    if sent.text.rstrip().endswith("?"):
        shape.append("question")
    subj = [t.lower_ for t in outside if t.dep_ in ("nsubj", "nsubjpass") and t.lower_ in _PRONOUNS]
    for p in subj[:2]:
        shape.append(f"pron_subj={p}")
    if any(w in {"we", "our", "us"} for w in (t.lower_ for t in outside)):
        shape.append("first_plural")
    if any(w in {"i", "my", "me"} for w in (t.lower_ for t in outside)):
        shape.append("first_singular")
    if words and words[0] in {"but", "and", "above", "still", "yet", "however", "instead", "meanwhile"}:
        shape.append(f"opens={words[0]}")
    if words and toks[0].is_digit:
        shape.append("opens_number")
    # A common-noun subject ("The leaders urged ...", "The institute assessed ...") points at
    # a group named earlier, or at whoever the clause it introduces is about.
    for t in outside:
        if t.dep_ in ("nsubj", "nsubjpass") and t.pos_ == "NOUN" and t.head.pos_ in ("VERB", "AUX"):
            shape.append(f"subj_noun={t.lemma_.lower()}")
            shape.append("subj_noun_plural" if t.tag_ == "NNS" else "subj_noun_singular")
            break
    return shape


def _bucket(share: float, low: float, high: float) -> int:
    """0 for none, then 1 / 2 / 3 below ``low``, below ``high``, above."""
    return 0 if share == 0 else 1 if share < low else 2 if share < high else 3


def _article_voice(shapes: list[list[str]]) -> list[str]:
    """How much of the article is the writer's own voice and how much is reported: an op-ed
    says "I" and quotes little, a wire story quotes in most sentences. The same sentence
    shape means a different holder in each."""
    n = len(shapes)
    if n < VOICE_MIN_SENTENCES:
        return ["article_short"]  # a share of two or three sentences says nothing
    out = []
    for cue in ("first_singular", "has_quote", "speech_verb", "speaker_label", "question"):
        share = sum(cue in sh for sh in shapes) / n
        out.append(f"article_{cue}={_bucket(share, 0.1, 0.3)}")
    return out


def _speaker_shares(rules: list[list[Holder]]) -> dict[str, float]:
    """Each actor's share of the article's quoted and reported sentences. An interview
    write-up gives most of them to one person, whose paraphrases and quote fragments then
    carry no name ("A ceasefire now would be a trap")."""
    # dict.fromkeys, not a set: in article order, so a tie goes to the first quoted in every process.
    counts = Counter(
        a for hs in rules for a in dict.fromkeys(h.actor for h in hs if h.actor != AUTHOR and h.method in _SPOKEN)
    )
    total = sum(counts.values())
    return {a: n / total for a, n in counts.items()} if total >= 2 else {}


def _main_person(mentions: list[list[Mention]], quotes) -> str | None:
    """The person the article names most often outside quotes (at least twice): in an
    interview, whose answers the first-person sentences are."""
    counts = Counter(
        m.actor
        for ms, q in zip(mentions, quotes, strict=True)
        for m in ms
        if m.kind == "person" and m.start not in q.inside
    )
    top = counts.most_common(1)
    return top[0][0] if top and top[0][1] >= 2 else None


def _mention_features(m: Mention, span, quotes) -> list[str]:
    doc = span.doc
    head = doc[m.end - 1]
    feats = [f"dep={head.dep_}", f"kind={m.kind}", "known" if m.known else "new_actor"]
    if m.start in quotes.inside:
        feats.append("mention_in_quote")
    gov = head.head
    lemma = gov.lemma_.lower()
    if gov.pos_ in ("VERB", "AUX"):
        if lemma in SPEECH_VERBS:
            feats.append(f"gov_speech_{head.dep_}")
        elif lemma in POSITION_VERBS:
            feats.append(f"gov_position_{head.dep_}")
        feats.append(f"gov={lemma}")
    if head.dep_ == "pobj" and gov.lower_ in {"to", "by", "from", "for"}:
        feats.append(f"pobj_of={gov.lower_}")
        if gov.head.lower_ == "according":
            feats.append("according_to")
    elif gov.pos_ in ("NOUN", "PROPN") and head.dep_ in ("poss", "amod", "compound", "nmod"):
        # "Trump's statement", "British and French backing": the holder of what the noun names.
        feats.append(f"of_noun={lemma}")
    if head.dep_ == "pobj":
        above = gov.head
        feats.append(f"prep={gov.lower_}")
        if above.pos_ in ("VERB", "AUX", "NOUN"):
            # "working with Starmer", "the readiness of European leaders", "rebuke from Moscow"
            feats.append(f"prep={gov.lower_}&{above.lemma_.lower()}")
    if head.dep_ == "conj":
        # "Germany, Poland and the Baltic states backed ...": take the first conjunct's role.
        first = head
        while first.dep_ == "conj" and first.head.i != first.i:
            first = first.head
        feats.append(f"conj_of={first.dep_}")
        if first.head.pos_ in ("VERB", "AUX"):
            feats.append(f"conj_gov={first.head.lemma_.lower()}")
    if m.start == span.start:
        feats.append("opens_sentence")
    up = head.head
    for _ in range(6):  # inside the complement of a verb of saying or judging?
        if up.head.i == up.i:
            break
        if up.dep_ in ("ccomp", "xcomp") and up.head.lemma_.lower() in SPEECH_VERBS:
            feats.append(f"embedded_{head.dep_}")
            break
        up = up.head
    rel = (m.start - span.start) / max(len(span), 1)
    feats.append(f"pos={min(int(rel * 4), 3)}")
    return feats


def candidates(
    sentences: list[Sentence], mentions: list[list[Mention]], actors: ArticleActors, rules: list[list[Holder]]
) -> list[list[Candidate]]:
    """Holder candidates of every sentence of one article, in order."""
    quotes = quote_marks(sentences)
    shapes = [_sentence_shape(sent, q) for sent, q in zip(sentences, quotes, strict=True)]
    voice = _article_voice(shapes)
    speakers = _speaker_shares(rules)
    main = max(speakers, key=speakers.get) if speakers else None
    person = _main_person(mentions, quotes)
    initials: dict[str, str] = {}
    out: list[list[Candidate]] = []
    recent: list[str] = []  # non-author rule holders, most recent last
    turn: str | None = None  # speaker of a transcript turn ("NAME: ...") still going
    prev_mentions: list[str] = []
    prev_holders: list[str] = []
    last_person: str | None = None
    for i, (sent, ms, rule) in enumerate(zip(sentences, mentions, rules, strict=True)):
        q = quotes[i]
        shape = list(shapes[i])
        found: dict[str, Candidate] = {}

        def get(actor: str, method: str, words: str = "", found: dict[str, Candidate] = found) -> Candidate:
            c = found.get(actor)
            if c is None:
                c = found[actor] = Candidate(actor, actors.side_of(actor), {}, method, words)
            return c

        first_para = i == 0 or sentences[i - 1].paragraph != sent.paragraph
        if first_para:
            shape.append("first_in_paragraph")
        labelled = "speaker_label" in shape
        if labelled or first_para:
            turn = None
        for m in ms:
            c = get(m.actor, "mention", m.text)
            c.add("in_sentence", *_mention_features(m, sent.span, q))
            if labelled and m.start - sent.span.start <= 6:
                c.add("label_speaker")
                turn = m.actor
            if m.kind == "person" and len(words := actors.info(m.actor).name.split()) > 1:
                initials.setdefault("".join(w[0] for w in words if w[0].isupper()), m.actor)
        label = _INITIALS.match(sent.text) if labelled and turn is None else None
        if label and label.group(1) in initials:
            turn = initials[label.group(1)]
            get(turn, "quote").add("label_speaker", "label_initials")
        for h in rule:
            c = get(h.actor, h.method, h.words)
            c.method = h.method
            c.add(f"rule={h.method}", "rule")
        if turn and not labelled:
            get(turn, "quote").add("turn_speaker")
        for k, a in enumerate(reversed(prev_holders)):
            get(a, "context").add("prev_holder", f"prev_holder_rank={min(k, 2)}")
        for a in prev_mentions:
            get(a, "context").add("prev_mention")
        for k, a in enumerate(reversed(recent[-RECENT:])):
            get(a, "context").add(f"recent_rank={k}")
        if last_person:
            get(last_person, "coreference").add("last_person")
        if main:
            get(main, "context").add("main_speaker", *(f"main_speaker&{s}" for s in shape))
        if person:
            get(person, "context").add("main_person", *(f"main_person&{s}" for s in shape))
        get(AUTHOR, "author").add("is_author")
        n = len(found)
        for c in found.values():
            kind = "author" if c.actor == AUTHOR else "actor"
            c.add(f"n_cands={min(n, 5)}", *(f"{kind}&{s}" for s in shape), *(f"{kind}&{v}" for v in voice))
            if c.actor != AUTHOR:
                info = actors.info(c.actor)
                c.add(f"cand_kind={info.kind}")
                c.add(f"speaker_share={_bucket(speakers.get(c.actor, 0.0), 0.2, 0.5)}")
                for s in shape:
                    if s.startswith("pron_subj"):
                        c.add(f"{s}&{info.kind}&{'f' if info.gender == 'f' else 'x'}")
        out.append(list(found.values()))
        held = [h.actor for h in rule if h.actor != AUTHOR]
        recent = [a for a in recent if a not in held] + held
        prev_holders = held
        prev_mentions = [m.actor for m in ms if m.start not in q.inside]
        people = [m.actor for m in ms if m.kind == "person" and m.start not in q.inside]
        if people:
            last_person = people[-1]
    return out


class HolderModel:
    """Scores (sentence, candidate) pairs: the probability that the candidate holds the
    sentence's positions. Sparse features → logistic regression (scikit-learn)."""

    def __init__(self, threshold: float = 0.5, C: float = 1.0):
        self.threshold = threshold
        self.C = C
        self.vectorizer = None
        self.model = None
        self.fast = None  # a LinearDictModel when loaded from the fast format

    def fit(self, groups: Iterable[tuple[list[Candidate], set[str]]]) -> HolderModel:
        """``groups``: per labelled sentence with positions, its candidates and gold holders."""
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        X, y = [], []
        for cands, gold in groups:
            for c in cands:
                X.append(c.features)
                y.append(int(c.actor in gold))
        self.vectorizer = DictVectorizer()
        self.model = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced")
        self.model.fit(self.vectorizer.fit_transform(X), y)
        return self

    def scores(self, cands: list[Candidate]) -> list[float]:
        if not cands:
            return []
        if self.fast is not None:
            return list(self.fast.positive([c.features for c in cands]))
        return list(self.model.predict_proba(self.vectorizer.transform([c.features for c in cands]))[:, 1])

    def choose(self, cands: list[Candidate]) -> list[tuple[Candidate, float]]:
        """The holders of a sentence: every candidate above the threshold, at least the best one."""
        scored = sorted(zip(cands, self.scores(cands), strict=True), key=lambda cs: -cs[1])
        chosen = [(c, p) for c, p in scored if p >= self.threshold]
        return chosen or scored[:1]

    def save(self, path) -> None:
        import skops.io as sio

        from ..models.linear_store import LinearDictModel

        # The model as arrays + JSON beside the skops file: what load reads (no scikit-learn
        # import). One loaded from that format has no scikit-learn objects to write again.
        fast = self.fast or LinearDictModel.from_sklearn(self.vectorizer, self.model)
        fast.save(Path(path).with_suffix(".npz"), {"threshold": self.threshold})
        if self.model is not None:
            sio.dump({"vectorizer": self.vectorizer, "model": self.model, "threshold": self.threshold}, path)

    @classmethod
    def load(cls, path) -> HolderModel:
        from ..models import load_skops

        if Path(path).with_suffix(".npz").exists():
            from ..models.linear_store import LinearDictModel

            fast, header = LinearDictModel.load(Path(path).with_suffix(".npz"))
            model = cls(threshold=float(header["threshold"]))
            model.fast = fast
            return model

        parts = load_skops(path)
        model = cls(threshold=float(parts["threshold"]))
        model.vectorizer, model.model = parts["vectorizer"], parts["model"]
        return model
