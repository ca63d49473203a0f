from pathlib import Path

import pytest

from seq2seq_es.config import apply_overrides, load_config
from seq2seq_es.errors import ConfigError
from seq2seq_es.pretraining.config import PretrainConfig


def test_defaults_validate() -> None:
    config = load_config(PretrainConfig, None)
    assert config.optim.steps > 0


def test_file_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("seq_len: 64\noptim:\n  lr: 0.01\n", encoding="utf-8")
    config = load_config(PretrainConfig, path, ["optim.steps=7", "model=barto-tiny"])
    assert (config.seq_len, config.optim.lr, config.optim.steps) == (64, 0.01, 7)


def test_unknown_key_names_it_and_lists_valid_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lrr: 0.01\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(PretrainConfig, path)
    message = str(info.value)
    assert "optim.lrr" in message and "lr," in message and "warmup_steps" in message
    assert "Did you mean 'lr'?" in message


@pytest.mark.parametrize(
    ("override", "hint"),
    [
        ("only_models=[BARTO-tinny]", "Did you mean 'BARTO tiny'?"),
        ("only_tasks=[tatoeba-es-en]", "Did you mean 'tatoeba-en-es'?"),
    ],
)
def test_a_bench_selection_typo_is_refused_not_an_empty_table(override: str, hint: str) -> None:
    """A name not in the grid selected nothing: an empty leaderboard and exit 0."""
    from seq2seq_es.bench.config import BenchConfig

    grid = Path(__file__).resolve().parents[1] / "configs" / "bench" / "tiny.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(BenchConfig, grid, [override])
    message = str(info.value)
    assert hint in message and "not in this grid" in message and "(got {" not in message


def test_wrong_type_names_key() -> None:
    with pytest.raises(ConfigError, match=r"optim\.steps"):
        load_config(PretrainConfig, None, ["optim.steps=many"])


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(PretrainConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(PretrainConfig, bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(PretrainConfig, listy)


def test_override_syntax_errors() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["no_equals_sign"])
    with pytest.raises(ConfigError, match="not a section"):
        apply_overrides({"seq_len": 3}, ["seq_len.x=1"])


def test_presets_in_configs_folder_validate() -> None:
    """Every configs/<command>/*.yaml validates against that command's schema."""
    from seq2seq_es.cli import config_schemas

    root = Path(__file__).resolve().parents[1] / "configs"
    schemas = config_schemas()
    checked = 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name in schemas):
        for path in sorted(folder.glob("*.yaml")):
            load_config(schemas[folder.name], path)
            checked += 1
    assert checked >= 4, "configs/ holds presets for the stages"


def test_a_lone_dash_is_the_string_dash() -> None:
    """``input=-`` means stdin: YAML alone would read it as the list [None]."""
    assert apply_overrides({}, ["input=-", "x=-1"]) == {"input": "-", "x": -1}


# --- renamed keys (docs/naming.md) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "given"),
    [
        ("ToLedConfig", ["bart=b"]),
        ("Bert2BertConfig", ["encoder=e"]),
        ("MergeAdapterConfig", ["adapter=a"]),
    ],
)
def test_an_old_key_name_still_loads_as_the_new_one_with_one_note(
    schema: str, given: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`model to-led|bert2bert|merge-adapter` wrote a folder named by `output`; every other
    command calls its folder `output_dir`. Old configs and run records keep working."""
    from seq2seq_es.models import config as model_configs
    from seq2seq_es.run_record import recorded_identity, run_identity

    cls = getattr(model_configs, schema)
    old = load_config(cls, None, [*given, "output=runs/x"])
    assert old.output_dir == "runs/x"
    assert capsys.readouterr().err.count("`output` is deprecated, use `output_dir`") == 1
    new = load_config(cls, None, [*given, "output_dir=runs/x"])
    assert new == old and "deprecated" not in capsys.readouterr().err
    recorded = {("output" if k == "output_dir" else k): v for k, v in old.model_dump().items()}
    assert recorded_identity(recorded, cls) == run_identity(new), (
        "an old run record is the same run"
    )
    with pytest.raises(ConfigError, match="`output` and `output_dir` are the same key"):
        load_config(cls, None, [*given, "output=a", "output_dir=b"])
