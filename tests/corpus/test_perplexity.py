"""KenLM scoring on a tiny ARPA model built here, and BERTIN's Gaussian sampling."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from datatrove.data import Document

from seq2seq_es.corpus.arpa import write_bigram_arpa
from seq2seq_es.corpus.perplexity import (
    GaussianPerplexitySampler,
    PerplexityScorer,
    cc_net_normalize,
    gaussian_keep_probability,
    uniform_from_id,
)

from .conftest import spanish_doc


@pytest.fixture()
def arpa(tmp_path: Path) -> Path:
    rng = random.Random(0)
    lines = [cc_net_normalize(line) for _ in range(200) for line in spanish_doc(rng).split("\n")]
    return write_bigram_arpa(lines, tmp_path / "tiny.arpa")


def test_cc_net_normalization() -> None:
    assert cc_net_normalize(" Año 1994: «Ñandú», dijo ") == 'ano 0000: "nandu", dijo'


def test_in_domain_text_has_lower_perplexity(arpa: Path) -> None:
    scorer = PerplexityScorer(str(arpa))
    in_domain = scorer.perplexity(spanish_doc(random.Random(99)))
    shuffled = scorer.perplexity(
        "mañana ayuntamiento del la sin puerto nadie historia cena de lunes el al"
    )
    assert 1 < in_domain < shuffled
    docs = list(scorer.run(iter([Document(text=spanish_doc(random.Random(5)), id="a")])))
    assert math.isclose(
        docs[0].metadata["perplexity"], scorer.perplexity(docs[0].text), rel_tol=1e-3
    )


def test_missing_model_is_a_config_error(tmp_path: Path) -> None:
    from seq2seq_es.errors import ConfigError

    with pytest.raises(ConfigError, match="not found"):
        PerplexityScorer(str(tmp_path / "missing.arpa"))


def test_gaussian_weight_matches_bertin() -> None:
    # BERTIN: factor * exp(-((ppl - median) / median)^2 / width); at the median it is the factor.
    assert gaussian_keep_probability(100.0, 100.0) == pytest.approx(0.78)
    assert gaussian_keep_probability(200.0, 100.0) == pytest.approx(0.78 * math.exp(-1 / 4.5))
    assert gaussian_keep_probability(150.0, 100.0) == gaussian_keep_probability(50.0, 100.0)


def test_sampling_is_seeded_per_document_and_follows_the_weight() -> None:
    assert uniform_from_id("doc-1", 1) == uniform_from_id("doc-1", 1) != uniform_from_id("doc-1", 2)
    sampler = GaussianPerplexitySampler(median=100.0, width=4.5, factor=0.78, seed=3)
    docs = [Document(text="x", id=f"d{i}", metadata={"perplexity": 100.0}) for i in range(4000)]
    kept = sum(sampler.filter(doc) is True for doc in docs)
    assert abs(kept / len(docs) - 0.78) < 0.03
    far = Document(text="x", id="far", metadata={"perplexity": 2000.0, "corpus_source": "web"})
    assert GaussianPerplexitySampler(100.0, 4.5, 0.78, 3, sources={"web"}).filter(far) == (
        False,
        "perplexity_sampling",
    )
    assert GaussianPerplexitySampler(100.0, 4.5, 0.78, 3, sources={"books"}).filter(far) is True
