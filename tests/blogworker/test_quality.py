"""The quality gate's refusal check: the phrases it knows, wherever they sit in a post and in any case."""

from __future__ import annotations

import pytest

from blogqueue.titles import MediaType, TitleDetails
from blogworker.envelope import Envelope
from blogworker.quality import QualityError, check_post

DUNE = TitleDetails(tmdb_id=438631, media_type=MediaType.MOVIE, title="Dune", year=2021)
SECTIONS = "\n\n".join(
    f"## Part {n}\n\n" + "A sentence about the film that says little. " * 6 for n in range(4)
)


def post(inserted: str) -> tuple[Envelope, str]:
    body = f"# Dune (2021)\n\n{SECTIONS}\n\n{inserted}\n"
    return Envelope(title="Dune (2021): a review", excerpt="Sand, spice and patience.", tags=[]), body


@pytest.mark.parametrize(
    "phrase",
    ["I can't help with that.", "i cannot write this", "I CAN'T PROVIDE it", "I'm sorry, but no.",
     "Sadly I am unable to do so.", "As an AI language model, I", "speaking as an ai, then"],
)  # fmt: skip
def test_a_refusal_anywhere_in_the_body_fails_the_gate(phrase: str) -> None:
    envelope, body = post(phrase)
    with pytest.raises(QualityError, match="refusal"):
        check_post(envelope, body, DUNE)


@pytest.mark.parametrize(
    "words", ["It is a bias an AI could have.", "I can't helpxx it", "This I cannot explain.", "Naan AI"]
)
def test_phrases_inside_other_words_pass(words: str) -> None:
    envelope, body = post(words)
    check_post(envelope, body, DUNE)
