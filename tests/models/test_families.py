"""The family table checks itself (litgpt's ``_check_commands()`` style): every name a row
gives exists where it must, and every preset's family is a row that can build and pretrain it."""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import transformers
from ctranslate2.converters import transformers as ct2_transformers
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
)

from seq2seq_es.errors import ConfigError
from seq2seq_es.inference.ct2_export import CONVERTER_OVERRIDES
from seq2seq_es.models.families import FAMILIES, family_of_model_type, get_family
from seq2seq_es.models.presets import CONFIG_BUILDERS, PRESETS, build_config
from seq2seq_es.objectives.collators import OBJECTIVES
from seq2seq_es.tokenizer.config import TokenizerConfig

SRC = Path(__file__).resolve().parents[2] / "src" / "seq2seq_es"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_row_names_real_classes_objectives_and_tokenizers(name: str) -> None:
    family = FAMILIES[name]
    assert family.name == name
    config_class = getattr(transformers, family.config_class)
    model_class = getattr(transformers, family.model_class)
    auto_class = getattr(transformers, family.auto_class)
    assert model_class.config_class is config_class, "the model class takes the row's config"
    assert config_class.model_type in family.model_types
    auto_names = {
        "AutoModelForSeq2SeqLM": MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
        "AutoModelForMaskedLM": MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    }[auto_class.__name__]
    assert auto_names[config_class.model_type] == family.model_class, (
        f"{family.auto_class}.from_pretrained loads a {name} folder as {family.model_class}"
    )
    assert family.encoder_decoder == (auto_class.__name__ == "AutoModelForSeq2SeqLM")
    assert family.objective is None or family.objective in OBJECTIVES
    kinds = typing.get_args(TokenizerConfig.model_fields["kind"].annotation)
    assert family.tokenizer is None or family.tokenizer in kinds
    roles = set(family.tokenizer_ids)
    assert {"pad", "eos"} <= roles
    assert family.decoder_start is None or family.decoder_start in roles
    assert family.encoder_decoder == (family.decoder_start is not None)
    if family.default_ids is not None:
        assert set(family.default_ids) <= roles
    for attributes in family.tokenizer_ids.values():
        tokens = {a.removesuffix("_id") for a in attributes}
        assert tokens <= set(transformers.PreTrainedTokenizerBase.SPECIAL_TOKENS_ATTRIBUTES)


def test_model_types_belong_to_one_row_and_warm_starts_are_encoders() -> None:
    types = [kind for family in FAMILIES.values() for kind in family.model_types]
    assert len(types) == len(set(types))
    for family in FAMILIES.values():
        for kind in family.model_types:
            assert family_of_model_type(kind) is family
        for kind in family.warm_starts_from:
            assert kind in MODEL_FOR_MASKED_LM_MAPPING_NAMES and family_of_model_type(kind) in (
                None,
                FAMILIES["bert"],
            )
    assert family_of_model_type("gpt2") is None


def test_ct2_exportable_rows_have_a_converter_and_our_corrections() -> None:
    exportable = {name for name, family in FAMILIES.items() if family.ct2_export}
    assert exportable == set(CONVERTER_OVERRIDES)
    for name in exportable:
        assert FAMILIES[name].config_class in ct2_transformers._MODEL_LOADERS
        assert FAMILIES[name].encoder_decoder


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_is_a_row_that_builds_and_pretrains(preset: str) -> None:
    family = get_family(PRESETS[preset].family)
    assert family.name in CONFIG_BUILDERS and family.objective in OBJECTIVES
    assert family.default_ids is not None, "a preset builds without a tokenizer"
    config = build_config(preset)
    assert type(config).__name__ == family.config_class
    if family.decoder_start is not None:
        assert config.decoder_start_token_id == family.default_ids[family.decoder_start]


def test_an_unknown_family_names_the_rows() -> None:
    with pytest.raises(ConfigError, match="bart, bert, bert2bert, led, t5"):
        get_family("gpt")


# A test of a family or model type by name; ``for family in ...`` loops are not tests.
BRANCH = re.compile(r"(?<!for )\bfamily\)? (==|!=|(not )?in )|model_type (==|!=|(not )?in \()")


def test_no_family_branches_outside_the_table() -> None:
    """What the table replaces: no ``family ==`` / ``model_type ==`` test in the package."""
    found = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "families.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if BRANCH.search(line)
    ]
    assert found == []


def test_the_table_imports_no_torch() -> None:
    """Command modules consult it at once: it stays light."""
    code = "import sys, seq2seq_es.models.families; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
