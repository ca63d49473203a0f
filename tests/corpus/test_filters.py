"""Each filter on crafted examples: Spanish kept, the rest dropped for the right reason."""

from __future__ import annotations

import random
import re
import unicodedata
from pathlib import Path

import pytest
from datatrove.data import Document

from seq2seq_es.corpus.config import LinesConfig, QualityConfig, RepetitionConfig
from seq2seq_es.corpus.language import LanguageIdFilter
from seq2seq_es.corpus.quality import (
    LineCleaningFilter,
    SpanishGopherQuality,
    SpanishGopherRepetition,
    clean_lines,
    has_stop_words,
    split_paragraphs_and_lines,
)
from seq2seq_es.corpus.spanish import STOP_WORDS, RegexWordTokenizer, split_words
from seq2seq_es.corpus.steps import LengthFilter, normalize_text

from .conftest import spanish_doc

SPANISH = (
    "El pequeño Íñigo se despertó temprano aquel otoño. Su abuela, que vivía junto al río, le "
    "había prometido una excursión a la montaña. ¿Quién no recuerda el olor del pan recién hecho? "
    "La niña añadió que el camión de la panadería llegaba siempre después de las ocho."
)
OTHERS = {
    "en": (
        "The committee met on Tuesday to discuss the new budget. Most members agreed that the "
        "proposal was reasonable, although several of them asked for more time to read the final "
        "report."
    ),
    "pt": (
        "A comissão reuniu-se na terça-feira para discutir o novo orçamento. A maioria dos membros "
        "concordou que a proposta era razoável, embora vários deles tenham pedido mais tempo para "
        "ler o relatório."
    ),
    "ca": (
        "La comissió es va reunir dimarts per discutir el nou pressupost. La majoria dels membres "
        "van estar d'acord que la proposta era raonable, tot i que molts van demanar més temps per "
        "llegir l'informe."
    ),
}


def _verdict(step, text: str) -> bool | tuple[bool, str]:
    return step.filter(Document(text=text, id="x"))


def test_word_split_keeps_accents_and_enye() -> None:
    assert split_words("El niño comió piñones, ¿verdad? ¡Sí!") == [
        "El",
        "niño",
        "comió",
        "piñones",
        "verdad",
        "Sí",
    ]
    tokenizer = RegexWordTokenizer()
    assert tokenizer.sent_tokenize("Hola. ¿Qué tal? Bien") == ["Hola.", " ¿Qué tal?", " Bien"]


def test_normalize_nfc_controls_and_spaces() -> None:
    decomposed = "nin\u0303o\x07  y   cafe\u0301\n\n\n\nfin "
    assert normalize_text(decomposed) == "niño y café\n\nfin"


def _normalize_with_regexes(text: str) -> str:
    """The regex formulation normalize_text replaced (and must agree with)."""
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", "", unicodedata.normalize("NFC", text))
    text = re.sub(r"\n{3,}", "\n\n", re.sub(r"[^\S\n]{2,}|[^\S\n ]", " ", text))
    return "\n".join(line.strip() for line in text.split("\n")).strip()


@pytest.mark.parametrize(
    "text",
    [
        "a\n  \n\n\nb",
        "  x\t\ty \u00a0z  \n\n\n\n\nw",
        "\n\n\na",
        "a\n\n",
        " \u2028 a",
        "a\u2028b",
        "x\r\ny",
        "uno\n \n \n dos",
        "\u3000tres\u2003 cuatro\x0c",
        "cin\x85co",
        "",
    ],
)
def test_normalize_agrees_with_the_regex_formulation(text: str) -> None:
    assert normalize_text(text) == _normalize_with_regexes(text)


@pytest.mark.parametrize(
    "text", ["uno\ndos\n\ntres", "\nuno\n\n", "a\n\n\n\nb\nc", "sin saltos", "x\n\ny\n\n\nz", ""]
)
def test_paragraph_and_line_split_agrees_with_datatrove_regexes(text: str) -> None:
    assert split_paragraphs_and_lines(text) == (
        re.split(r"\n{2,}", text.strip()),
        re.split("\n+", text),
    )


def test_stop_word_count_agrees_with_the_set_intersection() -> None:
    rng = random.Random(3)
    vocabulary = ["de", "la", "que", "el", "casa", "perro", "luz", "río", "La", "DE"]
    stop_words = {"de", "la", "que", "el"}
    for _ in range(300):
        words = rng.choices(vocabulary, k=rng.randint(0, 8))
        for minimum in (1, 2, 3):
            assert has_stop_words(words, stop_words, minimum) == (
                len(stop_words.intersection(words)) >= minimum
            )


def test_length_filter_reasons() -> None:
    step = LengthFilter(10, 20)
    assert _verdict(step, "corto") == (False, "too_short")
    assert _verdict(step, "x" * 21) == (False, "too_long")
    assert _verdict(step, "justo bien aquí") is True


def test_language_id_keeps_spanish_drops_neighbours() -> None:
    step = LanguageIdFilter("es", 0.65, 2000)
    doc = Document(text=SPANISH, id="es")
    assert step.filter(doc) is True
    assert doc.metadata["language"] == "es"
    for code, text in OTHERS.items():
        assert _verdict(step, text) == (False, f"lang_{code}"), code
    # Upper-case Spanish (an agenda heading) was read as Galician before lower-casing.
    heading = (
        "Queda aprobada.\n- DEL GRUPO PARLAMENTARIO SOCIALISTA, SOBRE LAS MEDIDAS QUE PIENSA "
        "ADOPTAR EL GOBIERNO PARA EVITAR LA EMIGRACIÓN DE LOS JÓVENES ESPAÑOLES Y FAVORECER EL "
        "RETORNO."
    )
    assert _verdict(step, heading) is True


def test_c4_lines_remove_boilerplate_and_keep_prose() -> None:
    config = LinesConfig(min_sentences=1)
    text = "\n".join(
        [
            "Menú principal",  # no terminal punctuation
            "Esta web utiliza cookies para mejorar su experiencia.",  # policy
            "Activa JavaScript para ver el contenido completo.",  # javascript
            "Vale.",  # too few words
            "La señora Núñez leyó «El Quijote» en voz alta.",  # kept (ends in .)
            "—¿Vendrás mañana?",  # too few words (2)
            "Todos cantaron la canción del verano",  # no terminal punctuation
            "Dijo que volvería pronto, y así lo hizo»",  # ends in »: kept
        ]
    )
    kept, removed, drop = clean_lines(text, config)
    assert drop == ""
    assert kept == [
        "La señora Núñez leyó «El Quijote» en voz alta.",
        "Dijo que volvería pronto, y así lo hizo»",
    ]
    assert removed == [
        "no_terminal_punctuation",
        "policy",
        "javascript",
        "too_few_words",
        "too_few_words",
        "no_terminal_punctuation",
    ]


def test_c4_drops_whole_documents() -> None:
    step = LineCleaningFilter(LinesConfig())
    assert _verdict(step, "Lorem ipsum dolor sit amet, consectetur.") == (False, "c4_lorem_ipsum")
    assert _verdict(step, "function f() { return 1; } es código.") == (False, "c4_curly_bracket")
    assert _verdict(step, SPANISH) == (False, "c4_too_few_sentences")  # 4 sentences < 5
    doc = Document(text=SPANISH + " Fin de la historia.\nInicio | Contacto", id="x")
    assert step.filter(doc) is True and doc.text == SPANISH + " Fin de la historia."


def test_gopher_repetition_drops_repeated_lines() -> None:
    step = SpanishGopherRepetition(RepetitionConfig())
    repeated = "\n".join(["Compre ahora con descuento."] * 6 + ["La tienda abre los lunes."])
    assert _verdict(step, repeated) == (False, "dup_line_frac")
    assert _verdict(step, spanish_doc(random.Random(3), paragraphs=2, sentences=5)) is True


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hola " * 10, "gopher_short_doc"),
        (
            " ".join(["extraordinariamente", "incomprensiblemente"] * 40),
            "gopher_above_avg_threshold",
        ),
        (
            "\n".join(f"- elemento número {i} de la lista de la compra" for i in range(60)),
            "gopher_too_many_bullets",
        ),
    ],
)
def test_gopher_quality_reasons(text: str, reason: str) -> None:
    assert _verdict(SpanishGopherQuality(QualityConfig()), text) == (False, reason)


def test_spanish_dialogue_dashes_are_not_bullets() -> None:
    dialogue = "\n".join(
        f"-¿Vendrás mañana a la casa de {name}? -preguntó ella.\n--Sí, iré con mi hermano."
        for name in ("Pedro", "Juan", "Lucía", "Ana", "Luis", "Marta", "Pablo", "Elena")
    )
    assert _verdict(SpanishGopherQuality(QualityConfig()), dialogue) is True


def test_gopher_quality_uses_spanish_stop_words() -> None:
    step = SpanishGopherQuality(QualityConfig())
    assert _verdict(step, spanish_doc(random.Random(4))) is True
    # English text passes nothing: no Spanish stop word at all.
    english = " ".join([OTHERS["en"]] * 3)
    assert _verdict(step, english) == (False, "gopher_enough_stop_words")


def test_fast_repetition_rules_match_datatrove() -> None:
    """Our vectorized n-gram rules give datatrove's verdicts (same word split)."""
    from datatrove.pipeline.filters import GopherRepetitionFilter

    rng = random.Random(11)
    reference = GopherRepetitionFilter(language=RegexWordTokenizer())
    ours = SpanishGopherRepetition(RepetitionConfig())
    texts = [spanish_doc(rng, paragraphs=2, sentences=5) for _ in range(20)]
    texts += [
        " ".join(
            rng.choice(["la casa", "de la playa", "es muy", "bonita y", "grande"]) for _ in range(n)
        )
        for n in (20, 60, 200)
    ]
    texts += [spanish_doc(rng) + " " + " ".join(["el perro ladra"] * k) for k in (3, 10, 30)]
    verdicts = [
        (ours.filter(Document(text=t, id="a")), reference.filter(Document(text=t, id="b")))
        for t in texts
    ]
    assert all(a == b for a, b in verdicts), verdicts
    assert any(a is not True for a, _ in verdicts) and any(a is True for a, _ in verdicts)


def test_fast_quality_rules_match_datatrove() -> None:
    """Our quality filter gives datatrove's verdicts (same word split and stop words; no bullet
    lines here)."""
    from datatrove.pipeline.filters import GopherQualityFilter
    from datatrove.utils.text import PUNCTUATION_SET

    assert not any(
        ch.isalpha() for ch in PUNCTUATION_SET
    )  # why all-letter words skip the symbol check
    config = QualityConfig()
    reference = GopherQualityFilter(
        min_doc_words=config.min_words,
        max_doc_words=config.max_words,
        min_avg_word_length=config.min_avg_word_length,
        max_avg_word_length=config.max_avg_word_length,
        max_symbol_word_ratio=config.max_symbol_word_ratio,
        max_bullet_lines_ratio=None,
        max_ellipsis_lines_ratio=config.max_ellipsis_lines_ratio,
        max_non_alpha_words_ratio=config.min_alpha_words_ratio,
        min_stop_words=config.min_stop_words,
        stop_words=list(STOP_WORDS),
        language=RegexWordTokenizer(),
    )
    ours = SpanishGopherQuality(config)
    rng = random.Random(12)
    texts = [spanish_doc(rng) for _ in range(10)] + [SPANISH * 3, " ".join([OTHERS["en"]] * 3)]
    texts += [
        spanish_doc(rng) + " " + filler
        for filler in (
            "___ __ _x_ １２ ١٢٣ ½ Ⅻ 42 3,14 " * 12,  # words without letters and "symbol words"
            "Nota… " * 20,
            "### # ## " * 10,
            "y ... " * 30,  # ellipses and hashes
            "\n".join(["Sigue…"] * 12),
            "一二三 二〇二四 " * 40,
        )
    ]  # lines ending in …, CJK numerals are letters
    verdicts = [
        (ours.filter(Document(text=t, id="a")), reference.filter(Document(text=t, id="b")))
        for t in texts
    ]
    assert all(a == b for a, b in verdicts), verdicts
    assert len({str(a) for a, _ in verdicts}) >= 4  # several different reasons were exercised


@pytest.mark.shared_data
def test_compiled_language_id_gives_py3langid_scores(shared_data: Path) -> None:
    import gzip
    import json

    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from seq2seq_es.corpus.language import load_identifier

    with gzip.open(shared_data / "pretrain" / "sample.jsonl.gz", "rt", encoding="utf-8") as handle:
        texts = [json.loads(line)["text"][:2000].lower() for line in handle][::5]
    texts += [SPANISH, *OTHERS.values(), "", "1234 5678", "!!", "ΟΔΥΣΣΕΥΣ"]
    stock, ours = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True), load_identifier()
    assert [ours.classify(t) for t in texts] == [stock.classify(t) for t in texts]
