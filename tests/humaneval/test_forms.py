"""Any submitted body becomes answers or a FormError (a 422), never another exception (a 500)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq_es.humaneval.config import load_protocol
from seq2seq_es.humaneval.forms import FormError, parse_answers

PROTOCOL = load_protocol("translation")
ORDER = ["B", "A"]
FIELDS = [
    "s1.adequacy",
    "s1.fluency",
    "s2.adequacy",
    "s2.fluency",
    "preference",
    "revision",
    "shown_at",
]


def test_a_complete_form_maps_slots_to_systems() -> None:
    body = urlencode(
        {
            "s1.adequacy": 5,
            "s1.fluency": 4,
            "s2.adequacy": 2,
            "s2.fluency": 1,
            "preference": "s2",
            "revision": 3,
            "shown_at": 1_000_000,
        }
    ).encode()
    revision, answers, seconds = parse_answers(body, PROTOCOL, ORDER, True, now=1_010.5)
    assert revision == 3 and seconds == pytest.approx(10.5)
    assert answers.scores == {
        ("B", "adequacy"): 5,
        ("B", "fluency"): 4,
        ("A", "adequacy"): 2,
        ("A", "fluency"): 1,
    }
    assert answers.preference == "A"


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.dictionaries(
            st.sampled_from(FIELDS) | st.text(max_size=8),
            st.one_of(
                st.integers(-10, 10).map(str),
                st.text(max_size=6),
                st.sampled_from(["s1", "s2", "tie"]),
            ),
            max_size=9,
        ).map(lambda d: urlencode(d).encode()),
    )
)
def test_any_body_is_answers_or_a_form_error(body: bytes) -> None:
    try:
        revision, answers, _ = parse_answers(body, PROTOCOL, ORDER, True)
    except FormError:
        return
    assert revision >= 0 and len(answers.scores) == 4
    assert all(1 <= v <= 5 for v in answers.scores.values()) and answers.preference in (
        "A",
        "B",
        "tie",
    )
