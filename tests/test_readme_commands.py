"""Every command in the ``bash`` blocks of README.md and docs/*.md runs as written (issue 39).

The rule, as the README states it:

- **What is a command:** every line of a fenced block tagged ``bash``, lines ending in ``\\``
  joined to the next; a ``#`` outside quotes starts a comment, and comment-only lines are not
  commands. ``NAME=value`` lines set ``$NAME`` for the later lines of the same file. Other
  blocks (``text``: output; ``python``: code for a running server) hold no commands.
- **Commands named in prose** (inline code starting with ``seq2seq-es``, outside tables, which
  hold synopses; and lines starting with it in other blocks, such as the demo's "what next")
  are parsed and validated like marked ones when they have arguments.
- **Marked commands** have a comment starting with ``long:`` (minutes or more even at a tiny
  size, or a server that runs until stopped) or ``needs:`` (the network, a GPU, a cluster,
  root, a running server), followed by the reason. They are not run; their ``seq2seq-es``
  command line (also inside ``torchrun``/``accelerate launch -m seq2seq_es.cli``, ``sbatch
  configs/slurm/train.sbatch`` and ``make demo ARGS=...``) is parsed by the CLI's own parser
  and its config validated, so a typo in one still fails here.
- **Every other command is run**, in file order (README first, then docs/ by name), each
  expected to exit 0: ``seq2seq-es`` in-process through Typer's runner (``echo TEXT |`` becomes
  its stdin), ``python`` as a subprocess. A program the runner does not know fails the test: a
  new kind of command is either taught here or marked in the README.

What the run may change, and why it stays honest:

- **Where:** commands run in a fresh folder laid out as a clone beside the shared data
  (``clone/configs`` and ``clone/scripts`` link to this repository's, ``shared/data`` to the
  shared data), so relative paths (``runs/...``, ``../shared/data``) mean what they say; every
  output lands in that temporary folder.
- **How much:** ``TINY`` below appends ``key=value`` overrides to some commands, after the
  command's own words (the last word wins). They only shrink the work: steps, documents,
  examples, vocabulary sizes, new tokens. The command's own words still go through the CLI's
  validation and choose everything else (presets, tasks, models, folders, engines).
- **What the reader brings:** files the README treats as the reader's own (``sentences.txt``,
  two prediction files for a human study) are written by the test, and the folder ``make demo``
  (marked ``long:``) would leave, ``runs/demo/{pretrain,finetune}``, links to the models the
  README's own stage-by-stage commands train (the same preset and kind of task).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import typer.main
from typer.testing import CliRunner

from seq2seq_es.cli import app, command_overrides, commands
from seq2seq_es.config import load_config
from seq2seq_es.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKERS = ("long:", "needs:")

# How much of the machine, not what is computed: on 2 cores shared with other jobs, torch's two
# spinning threads made the tiny pretrain and finetune 3-6x slower than one (26 -> 8 s and
# 23 -> 4 s wall at load 9). The test puts torch's thread count back afterwards.
ONE_THREAD = ["engine.threads=1"]
# Appended to a command's own words (see the module docstring): only how much work, never what.
TINY: dict[str, list[str]] = {
    "corpus": ["limit=10", "workers=1", "tasks=1"],
    "tokenizer": ["vocab_size=1000"],
    "tokenizer-report": ["english_baseline.vocab_size=1000", "english_baseline.max_chars=100000"],
    "pretrain": ["optim.steps=2", "optim.warmup_steps=1", "validation_blocks=2", *ONE_THREAD],
    "finetune": [
        *ONE_THREAD,
        "optim.steps=2",
        "optim.warmup_steps=1",
        "max_train_examples=64",
        "selection_examples=4",
        "max_eval_examples=4",
        "bootstrap_samples=50",
        "generation.max_new_tokens=4",
    ],
    "eval-matrix": ["max_examples=4", "bootstrap_samples=50", "generation.max_new_tokens=4"],
    "predict": ["generation.max_new_tokens=4"],
    "humaneval create": ["n_items=4"],
}


@dataclass(frozen=True)
class Line:
    """One command of a document: where it is, its words, and its marker (None: it runs)."""

    where: str
    text: str
    marker: str | None

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text)


def split_comment(line: str) -> tuple[str, str]:
    """``(command, comment)``: a ``#`` starts a comment outside quotes, at the start of the line
    or after a space (as the shell reads it)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].strip(), line[index + 1 :].strip()
    return line.strip(), ""


def bash_blocks(text: str) -> list[tuple[int, list[str]]]:
    """``(line number of the first line, lines)`` of each fenced block tagged ``bash``."""
    blocks: list[tuple[int, list[str]]] = []
    inside, tag = False, ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("```"):
            inside, tag = not inside, line.strip()[3:]
            if inside and tag == "bash":
                blocks.append((number + 1, []))
        elif inside and tag == "bash":
            blocks[-1][1].append(line)
    return blocks


def document_lines(path: Path) -> list[Line]:
    """The commands of one document, ``$NAME`` replaced by its value from a ``NAME=value`` line."""
    found: list[Line] = []
    variables: dict[str, str] = {}
    for start, lines in bash_blocks(path.read_text(encoding="utf-8")):
        pending, pending_at = "", 0
        for offset, raw in enumerate(lines):
            if raw.rstrip().endswith("\\"):
                pending_at = pending_at or start + offset
                pending += raw.rstrip()[:-1] + " "
                continue
            joined, number = pending + raw, pending_at or start + offset
            pending, pending_at = "", 0
            command, comment = split_comment(joined)
            if not command:
                continue
            assignment = re.fullmatch(r"([A-Z_]+)=(\S+)", command)
            if assignment:
                variables[assignment[1]] = assignment[2]
                continue
            for name, value in variables.items():
                command = command.replace(f"${name}", value)
            marker = comment if comment.startswith(MARKERS) else None
            found.append(Line(f"{path.relative_to(REPO)}:{number}", command, marker))
    return found


ALL_LINES = [line for path in DOCS for line in document_lines(path)]


def cli_words(line: Line) -> list[str] | None:
    """The ``seq2seq-es`` words a line runs, wherever they sit in it (None: no such words)."""
    words = line.words
    if words[0] == "seq2seq-es":
        return words[1:]
    if "seq2seq_es.cli" in words:
        return words[words.index("seq2seq_es.cli") + 1 :]
    if words[:2] == ["sbatch", "configs/slurm/train.sbatch"]:
        return words[2:]
    if words[:2] == ["make", "demo"]:
        args = [word.removeprefix("ARGS=") for word in words[2:] if word.startswith("ARGS=")]
        return ["demo", *(shlex.split(args[0]) if args else [])]
    return None


def command_name(words: list[str]) -> str:
    return " ".join(words[:2]) if words[0] in ("model", "humaneval") else words[0]


def check_command_line(words: list[str]) -> None:
    """Parse ``seq2seq-es WORDS`` as the CLI does and validate its config, without running it."""
    name = command_name(words)
    command = {command.name: command for command in commands()}[name]
    click_command = typer.main.get_command(app)
    for part in name.split(" "):
        click_command = click_command.get_command(None, part)  # type: ignore[attr-defined]
    params = click_command.make_context(name, words[len(name.split(" ")) :]).params
    flags = {key: value for key, value in params.items() if key.startswith("flag_")}
    load_config(
        command.schema, params["config"], command_overrides(command, params["words"], flags)
    )


def test_every_command_is_run_or_marked_with_a_reason() -> None:
    assert len(ALL_LINES) >= 30, "the extraction found the README's commands"
    for line in ALL_LINES:
        if line.marker is not None:
            reason = line.marker.split(":", 1)[1].strip()
            assert reason, f"{line.where}: `{line.marker}` gives no reason"
        else:
            program = line.words[0]
            assert program in ("seq2seq-es", "python", "echo"), (
                f"{line.where}: `{line.text}` runs {program!r}, which this test does not run: "
                "teach the test, or mark the command `# long: why` / `# needs: what`"
            )


def test_marked_commands_parse_and_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A marked command is not run, but its command line and config are checked."""
    monkeypatch.chdir(REPO)
    checked = 0
    for line in ALL_LINES:
        if line.marker is None:
            continue
        words = cli_words(line)
        if words is not None:
            check_command_line(words)
            checked += 1
        elif line.words[0] == "make":
            target = line.words[1]
            makefile = (REPO / "Makefile").read_text(encoding="utf-8")
            assert re.search(rf"^{target}:", makefile, re.M), f"{line.where}: no make {target}"
        elif line.words[0].startswith("scripts/") or "scripts/" in line.text:
            script = re.search(r"scripts/[\w.-]+", line.text)
            assert script and (REPO / script[0]).is_file(), f"{line.where}: no such script"
    assert checked >= 10


def test_a_misspelt_marked_command_fails_its_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check of marked commands can fail: a misspelt key is refused as the CLI refuses it."""
    monkeypatch.chdir(REPO)
    with pytest.raises(ConfigError, match=r"optim\.stpes"):
        check_command_line(["pretrain", "-c", "configs/pretrain/barto-tiny.yaml", "optim.stpes=3"])


def prose_commands(path: Path) -> list[tuple[str, list[str]]]:
    """``seq2seq-es ...`` in inline code of a document's prose (not in tables), and the lines of
    its other blocks that start with it (the demo's "what next" in the output it shows)."""
    found: list[tuple[str, list[str]]] = []
    inside, tag = False, ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip().startswith("```"):
            inside, tag = not inside, line.strip()[3:]
        elif inside and tag != "bash" and line.strip().startswith("seq2seq-es "):
            command = split_comment(line)[0].removeprefix("seq2seq-es ")
            found.append((f"{path.relative_to(REPO)}:{number}", shlex.split(command)))
        elif not inside and not line.startswith("|"):
            for span in re.findall(r"`seq2seq-es ([^`]*)`", line):
                found.append((f"{path.relative_to(REPO)}:{number}", shlex.split(span)))
    return found


def test_commands_named_in_prose_parse_and_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prose names commands too (`seq2seq-es bench -c configs/bench/tiny.yaml`): each one's
    options exist, and one with arguments parses and validates like a marked command."""
    monkeypatch.chdir(REPO)
    root = typer.main.get_command(app)
    root_options = {"--help"} | {name for param in root.params for name in param.opts}
    names = {command.name for command in commands()} | {"model", "humaneval"}
    checked = 0
    for where, words in [found for path in DOCS for found in prose_commands(path)]:
        while words and words[0].startswith("-"):
            assert words.pop(0) in root_options, f"{where}: no such option"
        if not words:
            continue
        name = command_name(words)
        assert name in names, f"{where}: no command {name!r}"
        if len(words) > len(name.split(" ")):
            check_command_line(words)
            checked += 1
    assert checked >= 6


def lay_out_clone(root: Path, shared_data: Path) -> Path:
    """A folder as a fresh clone beside the shared data, plus what the reader brings."""
    clone = root / "clone"
    clone.mkdir()
    (root / "shared").mkdir()
    (root / "shared" / "data").symlink_to(shared_data)
    for name in ("configs", "scripts", "docs"):
        (clone / name).symlink_to(REPO / name)
    (clone / "sentences.txt").write_text(
        "Where is the train station?\nI like coffee.\nThe dog sleeps.\n", encoding="utf-8"
    )
    demo = clone / "runs" / "demo"
    demo.mkdir(parents=True)
    (demo / "pretrain").symlink_to(clone / "runs" / "pretrain-barto-tiny")
    (demo / "finetune").symlink_to(clone / "runs" / "finetune")
    return clone


def bring_prediction_files(clone: Path) -> None:
    """Two systems' predictions on the same ids, once the README's runs have made them."""
    first = clone / "runs" / "finetune" / "predictions.jsonl"
    second = next((clone / "runs" / "eval-matrix").rglob("predictions.jsonl"))
    for name, source in (("a", first), ("b", second)):
        shutil.copyfile(source, clone / f"predictions_{name}.jsonl")
        (clone / "runs" / name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, clone / "runs" / name / "predictions.jsonl")


@pytest.mark.shared_data
def test_readme_commands_run_as_written(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = lay_out_clone(tmp_path, shared_data)
    monkeypatch.chdir(clone)
    threads = torch.get_num_threads()
    try:
        ran = run_every_unmarked_command(clone)
    finally:
        torch.set_num_threads(threads)  # engine.threads=1 is process-wide: later tests get theirs
    assert ran == sum(line.marker is None for line in ALL_LINES)


def run_every_unmarked_command(clone: Path) -> int:
    """Run the unmarked commands in order, each expected to exit 0; how many ran."""
    runner = CliRunner()
    ran = 0
    for line in ALL_LINES:
        if line.marker is not None:
            continue
        words, stdin = line.words, None
        if "|" in words:
            pipe = words.index("|")
            assert words[0] == "echo" and pipe == 2, f"{line.where}: only `echo TEXT |` is run"
            stdin, words = words[1] + "\n", words[pipe + 1 :]
        if "humaneval" in words[:2] and not (clone / "predictions_a.jsonl").exists():
            bring_prediction_files(clone)
        if words[0] == "python":
            done = subprocess.run(
                [sys.executable, *words[1:]], capture_output=True, text=True, env=os.environ
            )
            assert done.returncode == 0, f"{line.where}: `{line.text}`\n{done.stderr}"
            assert done.stdout.strip(), f"{line.where}: `{line.text}` printed nothing"
        else:
            args = [*words[1:], *TINY.get(command_name(words[1:]), [])]
            result = runner.invoke(app, args, input=stdin)
            assert result.exit_code == 0, f"{line.where}: `{line.text}`\n{result.output}"
        ran += 1
    return ran
