"""spaCy's attribute ruler with its rules indexed: the same annotations, a fifth of the time.

The English pipelines' attribute ruler maps each fine-grained tag to its part of speech and
morphology, then applies ~120 word-specific exceptions. spaCy's version runs every rule
at every token through one :class:`~spacy.matcher.Matcher` (180 single-token patterns
tried at each token): a third of the cost of parsing an article on a CPU. Here the tag map
is a dictionary lookup, a rule whose first token names its words runs only where one of
those words stands, and the few other rules run everywhere as before. Matches are then
applied by spaCy's own code in spaCy's order (later rules win), so every token ends with
exactly the attributes spaCy's component gives it (``tests/test_attribute_index.py``
compares them on the example articles).
"""

from __future__ import annotations

from spacy.language import Language
from spacy.matcher import Matcher

FACTORY = "stance_attribute_ruler"


@Language.factory(FACTORY)
def make_indexed_attribute_ruler(nlp: Language, name: str) -> IndexedAttributeRuler:
    return IndexedAttributeRuler(nlp.vocab)


def index_attribute_ruler(nlp: Language, name: str = "attribute_ruler") -> bool:
    """Swap the pipeline's attribute ruler for the indexed one, under the same name.

    Returns False (and leaves the pipeline as it is) where there is no such component."""
    if name not in nlp.pipe_names or nlp.get_pipe_meta(name).factory != "attribute_ruler":
        return False
    ruler = nlp.get_pipe(name)
    nlp.replace_pipe(name, FACTORY).adopt(ruler)
    return True


class IndexedAttributeRuler:
    """Applies the rules of a spaCy ``AttributeRuler`` it adopts."""

    def __init__(self, vocab):
        self.vocab = vocab
        self.ruler = None
        self.by_tag: dict[int, int] = {}  # tag hash → rule number, for the leading tag-map rules
        self.by_word: dict[str, list] = {}  # lower-cased word → its one-token rules (number, tests)
        self.everywhere: list = []  # one-token rules tried at every token
        self.matcher = Matcher(vocab)  # longer rules, and tests the lookup does not read
        self.reads: tuple[str, ...] = ()  # attributes the one-token rules test, LOWER aside
        self.lower_everywhere = False  # whether a rule tried everywhere tests LOWER
        self._cache: dict[tuple, list[int]] = {}  # token attribute values → its one-token rules

    def adopt(self, ruler) -> IndexedAttributeRuler:
        self.ruler = ruler
        tag_map_done = False
        for number, entry in enumerate(ruler.patterns):  # rule number = the ruler's attrs index
            patterns = entry["patterns"]
            tag = _lone_tag(patterns)
            if tag is not None and not tag_map_done:
                self.by_tag[self.vocab.strings.add(tag)] = number
                continue
            tag_map_done = True  # a tag rule after an exception must keep its place in the order
            tests = _token_tests(patterns)
            if tests is None:
                self.matcher.add(str(number), patterns)
                continue
            words = tests.pop("LOWER", (None, None))[1] if tests.get("LOWER", ("",))[0] == "IN" else None
            if words:
                for word in words:
                    self.by_word.setdefault(word, []).append((number, tests))
            else:
                self.everywhere.append((number, tests))
        rules = [t for _, t in self.everywhere] + [t for ts in self.by_word.values() for _, t in ts]
        self.reads = tuple(sorted({a for t in rules for a in t} - {"LOWER"}))
        self.lower_everywhere = any("LOWER" in t for _, t in self.everywhere)
        self._cache.clear()
        return self

    def _one_token_rules(self, tok) -> list[int]:
        """The numbers of the one-token rules that match the token, in rule order."""
        lower = tok.lower_
        word = lower if self.lower_everywhere or lower in self.by_word else None
        key = (word, *(_ATTRS[a](tok) for a in self.reads))
        hit = self._cache.get(key)
        if hit is None:
            values = dict(zip(self.reads, key[1:], strict=True), LOWER=lower)
            rules = self.everywhere + self.by_word.get(lower, [])
            hit = sorted(n for n, tests in rules if all(_passes(values[a], *t) for a, t in tests.items()))
            if len(self._cache) < 100_000:
                self._cache[key] = hit
        return hit

    def __call__(self, doc):
        strings = self.vocab.strings
        found = []  # (rule number, start, end), as the ruler's matcher would find them
        for tok in doc:
            number = self.by_tag.get(tok.tag)
            if number is not None:
                found.append((number, tok.i, tok.i + 1))
            found += [(n, tok.i, tok.i + 1) for n in self._one_token_rules(tok)]
        if len(self.matcher):
            found += [(int(strings[k]), s, e) for k, s, e in self.matcher(doc, allow_missing=True)]
        found.sort()
        self.ruler.set_annotations(doc, [(n, strings[str(n)], s, e) for n, s, e in found])
        return doc


# The token attributes a one-token rule may test here; a rule testing any other goes to
# spaCy's Matcher.
_ATTRS = {
    "TAG": lambda t: t.tag_,
    "LOWER": lambda t: t.lower_,
    "DEP": lambda t: t.dep_,
    "POS": lambda t: t.pos_,
    "ORTH": lambda t: t.text,
    "IS_SPACE": lambda t: t.is_space,
}


def _passes(value, op: str, expected) -> bool:
    if op == "IN":
        return value in expected
    if op == "NOT_IN":
        return value not in expected
    return value == expected


def _lone_tag(patterns: list) -> str | None:
    """The tag of a rule that is one single-token pattern testing the tag alone."""
    if len(patterns) == 1 and len(patterns[0]) == 1 and set(patterns[0][0]) == {"TAG"}:
        tag = patterns[0][0]["TAG"]
        return tag if isinstance(tag, str) else None
    return None


def _token_tests(patterns: list) -> dict[str, tuple[str, object]] | None:
    """A one-token rule's tests as {attribute: (op, value)}: op "IN" (a frozenset; an exact
    string is a set of one), "NOT_IN" or "==" (a boolean). None: leave the rule to spaCy."""
    if len(patterns) != 1 or len(patterns[0]) != 1:
        return None
    tests: dict[str, tuple[str, object]] = {}
    for attr, want in patterns[0][0].items():
        if attr not in _ATTRS:
            return None
        if isinstance(want, bool):
            tests[attr] = ("==", want)
        elif isinstance(want, str):
            tests[attr] = ("IN", frozenset([want]))
        elif isinstance(want, dict) and len(want) == 1 and next(iter(want)) in ("IN", "NOT_IN"):
            op, values = next(iter(want.items()))
            if not all(isinstance(v, str) for v in values):
                return None
            tests[attr] = (op, frozenset(values))
        else:
            return None
    return tests
