"""YAML config files → validated, typed config objects.

Why pydantic models with ``extra="forbid"``: a typo in a config key (``lrr: 1e-3``)
must stop the run with a message naming the key and listing the valid ones, instead
of silently training with the default. Overrides from the command line
(``training.lr=3e-4``) are parsed as YAML scalars and applied before validation, so
they obey exactly the same rules as the file.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from seq2seq_es.errors import ConfigError


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, values are validated.

    ``RENAMED`` maps a key's old name to its new one (docs/naming.md): the old name still
    loads, as the new one, so old config files and run records keep working; ``load_config``
    prints a deprecation note for it.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())
    RENAMED: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return renamed(cls, data)[0] if cls.RENAMED else data


def renamed(schema: type[BaseModel], data: Any) -> tuple[Any, list[str]]:
    """``data`` with the old names of ``schema.RENAMED`` replaced by the new ones (top-level
    keys, order kept), and the old names found. Both names given is an error: which one
    counts would be a guess."""
    table: dict[str, str] = getattr(schema, "RENAMED", {})
    if not isinstance(data, dict) or not table:
        return data, []
    found = [old for old in table if old in data]
    for old in found:
        if table[old] in data:
            raise ConfigError(
                f"`{old}` and `{table[old]}` are the same key (`{old}` is its old name): give "
                f"`{table[old]}` only."
            )
    return {table.get(key, key): value for key, value in data.items()}, found


ConfigT = TypeVar("ConfigT", bound=StrictModel)


class Volatile:
    """Marks a config field that may change between a run and its resume without changing what
    the run computes: ``log_every: Annotated[int, VOLATILE] = 10``.

    Why on the field: a run's identity (``run_record.run_identity``: what makes a rerun the same
    run) is its resolved config minus these fields, and key names listed apart from the schema
    drifted from it unchecked. A marked section (``generation``) leaves out all its keys.
    """

    def __repr__(self) -> str:
        return "VOLATILE"


VOLATILE = Volatile()


def volatile_keys(schema: type[BaseModel]) -> tuple[str, ...]:
    """The dotted keys of ``schema``'s fields marked ``VOLATILE``, nested sections included."""
    keys: list[str] = []
    for name, info in schema.model_fields.items():
        if any(isinstance(item, Volatile) for item in info.metadata):
            keys.append(name)
        elif isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            keys += [f"{name}.{key}" for key in volatile_keys(info.annotation)]
    return tuple(keys)


@dataclass(frozen=True)
class ConfigKey:
    """One key of a command's config as ``--show-config`` lists it: dotted name, default as
    YAML (``required`` when there is none; empty for a section's own description),
    description (with the choices of a Literal)."""

    key: str
    default: str
    description: str


def config_keys(schema: type[BaseModel], defaults: BaseModel | None = None) -> list[ConfigKey]:
    """Every key of ``schema``, nested sections dotted, with the defaults *this* schema gives.

    Why the section's default instance and not the section class: ``finetune`` starts
    ``optim`` at ``lr=5e-4, steps=300``, not at ``OptimConfig``'s own defaults."""
    keys: list[ConfigKey] = []
    for name, info in schema.model_fields.items():
        value = _default_of(info) if defaults is None else getattr(defaults, name)
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel) and value is not None:
            if info.description:
                keys.append(ConfigKey(name, "", info.description))  # the section's own
            nested = config_keys(section, value if isinstance(value, BaseModel) else None)
            keys += [ConfigKey(f"{name}.{k.key}", k.default, k.description) for k in nested]
            continue
        choices = get_args(info.annotation) if get_origin(info.annotation) is Literal else ()
        described = " ".join(
            part
            for part in (
                info.description or "",
                f"(one of: {', '.join(map(str, choices))})" if choices else "",
            )
            if part
        )
        keys.append(ConfigKey(name, _as_yaml(value), described))
    return keys


REQUIRED = object()

# Bootstrap resamples and randomization trials: the literature uses 1,000-10,000; far more
# never finishes (10**12 on 3 lines ran for over 10 minutes, found by tests/test_cli_fuzz.py),
# so a config asking for more is refused before the work.
MAX_RESAMPLES = 1_000_000
# A random seed: numpy's generators refuse a negative one with a bare ValueError, and 32 bits
# is what every library here accepts (score seed=-1 was a traceback; tests/test_cli_fuzz.py).
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]


def _default_of(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return REQUIRED if info.default is PydanticUndefined else info.default


def _as_yaml(value: Any) -> str:
    """A default as it would be written in an override (``null``, ``true``, ``[a, b]``)."""
    if value is REQUIRED:
        return "required"
    text = yaml.safe_dump(
        to_jsonable_python(value),
        default_flow_style=True,
        allow_unicode=True,
        sort_keys=False,
        width=10**6,
    )
    return text.strip().removesuffix("...").strip()


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file and what to do."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"Config file {path} not found. Pass an existing YAML file, e.g. one under configs/."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"Config file {path} is not UTF-8 text. Save it as UTF-8.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file {path} must hold a mapping of keys to values, got {type(data).__name__}."
        )
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value`` into (["a", "b", "c"], value), the value read as YAML.

    A lone ``-`` stays the string "-" (stdin for ``input=-``), not YAML's list ``[None]``.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            f"Override {text!r} must look like key=value (dotted keys for sections, e.g. "
            "training.lr=3e-4)."
        )
    if raw.strip() == "-":
        return key.strip().split("."), "-"
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with every ``key=value`` override applied."""
    result: dict[str, Any] = _deep_copy(data)
    for text in overrides:
        keys, value = parse_override(text)
        node = result
        for key in keys[:-1]:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"Override {text!r}: {key!r} is a value, not a section.")
            node = child
        node[keys[-1]] = value
    return result


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}


def closest(name: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The closest of ``choices`` to a misspelt ``name`` (None: none is close)."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(name: str, choices: list[str] | tuple[str, ...]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices`` to a misspelt ``name``, else ``""``."""
    close = closest(name, choices)
    return f" Did you mean {close!r}?" if close else ""


def valid_keys(schema: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Walk ``loc`` through nested models to list the field names valid at that point."""
    model: type[BaseModel] | None = schema
    for part in loc[:-1]:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return sorted(model.model_fields) if model is not None else []


def format_validation_error(exc: ValidationError, schema: type[BaseModel], source: str) -> str:
    """Turn pydantic's report into lines a user can act on."""
    lines = [f"Invalid config ({source}):"]
    for error in exc.errors():
        loc = tuple(error["loc"])
        key = ".".join(str(part) for part in loc) or "<root>"
        if error["type"] == "extra_forbidden":
            valid = valid_keys(schema, loc)
            hint = did_you_mean(str(loc[-1]), valid) if loc else ""
            lines.append(f"  - unknown key '{key}'.{hint} Valid keys here: {', '.join(valid)}.")
        elif error["type"] == "missing":
            lines.append(f"  - missing required key '{key}'.")
        elif not loc:  # a check of the whole config: its message says what is wrong
            lines.append(f"  - {error['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"  - key '{key}': {error['msg']} (got {error.get('input')!r}).")
    return "\n".join(lines)


def nul_keys(data: Any, prefix: str = "", above: frozenset[int] = frozenset()) -> list[str]:
    """Keys whose text holds a NUL character: no path can, and the OS refuses it with a
    ``ValueError`` deep in the work (found by tests/test_cli_fuzz.py). ``above``: the
    containers on the way here, as a YAML alias can make a list that holds itself
    (``&a [*a]``), which validation then refuses."""
    if id(data) in above:
        return []
    inner = above | {id(data)}
    if isinstance(data, dict):
        items = [(f"{prefix}{key}.", value) for key, value in data.items()]
        return [k for where, value in items for k in nul_keys(value, where, inner)]
    if isinstance(data, list):
        items = [(f"{prefix}{i}.", value) for i, value in enumerate(data)]
        return [k for where, value in items for k in nul_keys(value, where, inner)]
    return [prefix.rstrip(".")] if isinstance(data, str) and "\x00" in data else []


def validate_config(schema: type[ConfigT], data: dict[str, Any], source: str) -> ConfigT:
    """Validate a plain mapping into ``schema`` or raise a readable ``ConfigError``."""
    if bad := nul_keys(data):
        raise ConfigError(
            f"Invalid config ({source!r}): key {bad[0]!r} holds a NUL character (\\x00), "
            "which no file name or text setting may contain. Remove it."
        )
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, schema, source)) from None


def load_config(
    schema: type[ConfigT], path: str | Path | None, overrides: list[str] | None = None
) -> ConfigT:
    """Load ``path`` (or the schema defaults when None), apply overrides, validate."""
    data = read_yaml(path) if path is not None else {}
    data = apply_overrides(data, overrides or [])
    for old in renamed(schema, data)[1]:
        print(
            f"note: `{old}` is deprecated, use `{schema.RENAMED[old]}` "
            "(the old name still works, for now).",
            file=sys.stderr,
        )
    source = str(path) if path is not None else "defaults"
    if overrides:
        source += " + overrides " + " ".join(overrides)
    return validate_config(schema, data, source)


def dump_config(config: BaseModel) -> str:
    """The resolved config as YAML, to store next to a run's outputs."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
