"""Property-based fuzzing of the whole CLI: whatever a careless user types, the answer is a
result (exit 0), a clear error (exit 2) or a stop (exit 130), never a traceback, and no file
outside the run's own output is touched.

Why hypothesis and not a list of cases: the commands share one config path
(``load_config`` → claim → work), but each has its own keys, inputs and files, and the bugs
issue 39 found (markup in messages, files written before a refusal) hid in combinations no one
listed. Each example runs one command in a fresh sandbox folder (cwd, HOME) holding inputs
of every kind a user can give by mistake: missing, empty, binary, truncated gzip, non-UTF-8,
broken JSONL, the wrong schema, folders, read-only folders, plus a few valid tiny ones. The
command gets ``key=value`` overrides drawn from its own keys, misspellings and invented
nested keys, with values of the wrong type, markup brackets, unicode, control characters,
huge numbers and NaN.

Bounds, so a fuzz example stays an example: the Hub is offline; a valid run that still goes
on after ``ALARM_S`` is stopped like a Ctrl-C (exit 130, allowed); keys that start processes
or threads (``workers``, ``threads``) never get numbers; and ``bench-peak`` (a GEMM probe
for seconds that writes the machine's cache), ``serve`` and ``humaneval serve`` (servers that
block) always get one value their schema refuses, so only their validation is fuzzed.
CI runs a fixed, derandomized budget (``EXAMPLES`` per command); ``FUZZ_EXAMPLES=100`` runs a
larger one locally. The sandbox runs as its user: as root, read-only folders are writable.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from seq2seq_es.cli import _positional_override, app, commands
from seq2seq_es.config import config_keys, load_config
from seq2seq_es.errors import Seq2SeqEsError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))  # per command
ALARM_S = 4.0  # a valid run still going after this is stopped as by Ctrl-C
COMMANDS = {command.name: command for command in commands()}
# Servers and the GEMM probe: only configs their schema refuses (see the module docstring).
VALIDATION_ONLY = {"serve": "port=-1", "humaneval serve": "port=-1", "bench-peak": "size=1"}
PROCESS_KEYS = ("workers", "threads", "num_workers")
INPUT_NAMES = {"input", "data", "model", "tokenizer", "path", "encoder", "decoder", "bart"}
INPUT_NAMES |= {"adapter", "base", "study", "predictions", "references", "systems", "protocol"}
KEYS = {name: [key.key for key in config_keys(c.schema)] for name, c in COMMANDS.items()}
DEFAULTS = {name: {k.key: k.default for k in config_keys(c.schema)} for name, c in COMMANDS.items()}

VALID_RECORD = {
    "id": "1",
    "text": "El niño come pan con su madre en la casa grande por la mañana. " * 4,
    "prediction": "el niño come pan",
    "reference": "el niño come pan con su madre",
    "src": "hola",
    "tgt": "hola",
}
# name → bytes of the file (None: a folder); names starting "missing" are never created
INPUTS: dict[str, bytes | None] = {
    "valid.jsonl": (json.dumps(VALID_RECORD) + "\n").encode() * 3,
    "valid.txt": "el niño come pan\nla casa grande\n".encode(),
    "empty.jsonl": b"",
    "binary.jsonl": bytes(range(256)) * 4,
    "truncated.jsonl.gz": gzip.compress((json.dumps(VALID_RECORD) + "\n").encode() * 50)[:40],
    "latin1.jsonl": json.dumps({"id": "1", "text": "niño"}, ensure_ascii=False).encode("latin-1"),
    "broken.jsonl": b'{"id": "1", "text": "hola"}\n{"id": "2", "text": \n',
    "schema.jsonl": b'[1, 2]\n{"text": 5, "id": null}\n"just a string"\n',
    "config.yaml": b"output_dir: out/run\n",
    "list.yaml": b"- a\n- b\n",
    "broken.yaml": b"key: [unclosed\n",
    "binary.yaml": bytes(range(256)),
    "folder": None,
    "folder/config.json": b'{"model_type": "bart"}',
    "folder/study.json": b"{not json",
    "empty_folder": None,
    "readonly_folder": None,
    "readonly_folder/keep.txt": b"keep",
}
# mostly a new folder; else one with markup or a NUL in its name, an input, the cwd
OUTPUTS = ["out/run"] * 4 + ["out/[/x]run", "out/a\x00b", "in/folder", "in/valid.jsonl", "."]
PATHS = [*INPUTS, "missing.jsonl", "missing/deeper/x.jsonl", "folder/missing.json"]
MARKUP = ["[bold]x[/bold]", "[/x]", "[link=file:///etc/passwd]y[/link]", "[red", "]", "[[", "[/]"]
WEIRD_TEXT = ["", " ", "-", "~", "null", "\x00", "\x1b[31mred", "\r\n", "ñandú", "🙂", "\u202e"]
YAML_TEXT = ["[a, b]", "{a: 1}", "[", "{", "a: b", "&a [*a]", "!!python/object:os.system", "'"]
NUMBERS = ["0", "-1", "1", "3", "2.5", "1e308", "-1e308", "nan", ".nan", "inf", "-.inf"]
HUGE = [str(2**63), str(10**30), "1" * 400]


def sandbox_path(name: str, absolute: bool, root: Path) -> str:
    return str(root / "in" / name) if absolute else f"in/{name}"


@st.composite
def values(draw: st.DrawFn, command: str, key: str, root: Path) -> str:
    """A value for ``key``: its default, a sandbox path, or something of the wrong kind."""
    if any(part in key for part in PROCESS_KEYS):
        kinds = ["default", "path", "text"]
    else:
        kinds = ["default", "default", "path", "text", "number", "huge"]
    kind = draw(st.sampled_from(kinds))
    if kind == "default":
        return DEFAULTS[command].get(key, "1")
    if kind == "path":
        name = draw(st.sampled_from(PATHS))
        return sandbox_path(name, draw(st.booleans()), root) + draw(
            st.sampled_from(["", "", "/", "[bold]", "[/x]"])
        )
    if kind == "number":
        return draw(st.sampled_from(NUMBERS))
    if kind == "huge":
        return draw(st.sampled_from(HUGE))
    return draw(
        st.one_of(
            st.sampled_from(MARKUP + WEIRD_TEXT + YAML_TEXT),
            st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
        )
    )


@st.composite
def keys(draw: st.DrawFn, command: str) -> str:
    """One of the command's keys, a misspelling of one, or an invented (nested) key."""
    known = KEYS[command] or ["x"]
    key = draw(st.sampled_from(known))
    kind = draw(st.sampled_from(["valid", "valid", "valid", "typo", "nested", "invented"]))
    if kind == "typo":
        return key[:-1] or "x"
    if kind == "nested":
        return draw(st.sampled_from([f"{key}.lr", "optim.lr", "a.b.c", f"{key}."]))
    if kind == "invented":
        return draw(st.sampled_from(["training.lr", "[bold]k", "ñ", "", " ", "=", "optim..lr"]))
    return key


def input_keys(command: str) -> list[str]:
    """The keys that name files or folders the command reads."""
    return [
        key
        for key, default in DEFAULTS[command].items()
        if key.rpartition(".")[2] in INPUT_NAMES or ("/" in default and "output" not in key)
    ]


@st.composite
def invocations(draw: st.DrawFn, name: str, root: Path) -> list[str]:
    """A command line of ``name``: output into out/, inputs from the sandbox, a few random
    overrides, maybe --config and bare words."""
    command = COMMANDS[name]
    words: list[str] = []
    for output_key in ("output_dir", "output"):
        if output_key in KEYS[name] and draw(st.integers(0, 3)):
            words.append(f"{output_key}={draw(st.sampled_from(OUTPUTS))}")
    for key in input_keys(name):
        if draw(st.integers(0, 3)):
            path = draw(st.sampled_from(["valid.jsonl", "valid.txt", *PATHS]))  # valid: deeper
            words.append(f"{key}={sandbox_path(path, False, root)}")
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        key = draw(keys(name))
        words.append(f"{key}={draw(values(name, key, root))}")
    if command.positional is not None and draw(st.booleans()):
        words.append(sandbox_path(draw(st.sampled_from(PATHS)), draw(st.booleans()), root))
    if name in VALIDATION_ONLY:
        words.append(VALIDATION_ONLY[name])
    if draw(st.integers(0, 4)) == 0:
        words[:0] = ["--config", sandbox_path(draw(st.sampled_from(PATHS)), False, root)]
    return words


def make_inputs(root: Path) -> None:
    for name, content in INPUTS.items():
        path = root / "in" / name
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    (root / "in" / "readonly_folder").chmod(0o555)
    (root / "home").mkdir()


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under ``root`` → (mode, content hash; "" for folders)."""
    state = {}
    for path in root.rglob("*"):
        stat = path.lstat()
        digest = "" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        state[str(path.relative_to(root))] = (stat.st_mode, digest)
    return state


def allowed_outputs(name: str, words: list[str], root: Path) -> list[Path]:
    """Where this command line may write: the output folder and file of its config, as the
    CLI resolves them (nothing, when the config does not validate)."""
    command = COMMANDS[name]
    config_file = None
    if words[:1] == ["--config"]:
        config_file, words = words[1], words[2:]
    overrides = [w for w in words if "=" in w or command.positional is None]
    bare = [w for w in words if w not in overrides]
    try:
        extra = _positional_override(command, bare)
        config = load_config(command.schema, config_file, [*overrides, *([extra] if extra else [])])
    except Seq2SeqEsError:
        return []
    file = command.output_file(config)
    # score writes its Markdown twin beside the output file (metrics/score_file.py)
    twin = Path(file).with_suffix(".md") if file and Path(file).name else None
    places = [command.output_dir(config), file, twin]
    places += [getattr(config, key, None) for key in ("output_dir", "output")]
    return [(root / str(place)).resolve() for place in places if place]


def is_allowed(changed: str, allowed: list[Path], root: Path) -> bool:
    path = (root / changed).resolve()
    # inside an output, or a folder created on the way to one
    return any(path.is_relative_to(place) or place.is_relative_to(path) for place in allowed)


def on_alarm(signum: int, frame: Any) -> None:
    """Ctrl-C, except in the middle of an import: a module half-imported would stay broken
    for the rest of the test session, so the stop waits until the import is done."""
    while frame is not None:
        if "importlib" in frame.f_code.co_filename:
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            return
        frame = frame.f_back
    raise KeyboardInterrupt


@contextmanager
def stop_after(seconds: float) -> Iterator[None]:
    """Stop a run that goes on too long as Ctrl-C would (the CLI answers exit 130)."""
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@pytest.mark.parametrize("name", sorted(COMMANDS))
@given(data=st.data())
def test_any_command_line_exits_cleanly_and_writes_only_its_output(
    name: str, data: st.DataObject, fuzz_root: Path
) -> None:
    with tempfile.TemporaryDirectory(dir=fuzz_root) as folder:
        root = Path(folder).resolve()
        make_inputs(root)
        words = data.draw(invocations(name, root), label="command line")
        argv = [*name.split(), *words]
        before = snapshot(root)
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(root)
            patch.setenv("HOME", str(root / "home"))
            patch.setenv("HF_HUB_OFFLINE", "1")
            patch.setenv("TRANSFORMERS_OFFLINE", "1")
            with stop_after(ALARM_S):
                result = CliRunner().invoke(app, argv)
            allowed = allowed_outputs(name, words, root)
        after = snapshot(root)
        (root / "in" / "readonly_folder").chmod(0o755)  # so the sandbox can be removed

    event(f"exit {result.exit_code}")  # --hypothesis-show-statistics: how deep examples got
    shown = f"seq2seq-es {' '.join(argv)}\n{result.output}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}\n{shown}") from result.exception
    assert result.exit_code in (0, 2, 130), shown
    assert "Traceback" not in result.output, shown
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    outside = [p for p in changed if not is_allowed(p, allowed, root)]
    assert not outside, f"written outside the run's output {allowed}: {outside}\n{shown}"
