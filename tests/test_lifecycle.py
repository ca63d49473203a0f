"""A run's lifecycle as a user meets it: every refusal and failure is one paragraph and exit 2
(130 for Ctrl-C), names the file, line or key, says what to do, and changes no file.

Each test snapshots every file it could touch (the run folders, the inputs) before the
command and compares after: a refused run must leave other runs exactly as they were.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import warm_python
from seq2seq_es.cli import app

runner = CliRunner()
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
}
QUIET = ["engine.log_every=1", "engine.measure_mfu=false", "engine.tensorboard=false"]


# ------------------------------------------------------------------------- helpers


def snapshot(*roots: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``roots``: (size, mtime, SHA-1)."""
    files = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                files[str(path)] = (
                    path.stat().st_size,
                    path.stat().st_mtime_ns,
                    hashlib.sha1(path.read_bytes()).hexdigest(),
                )
    return files


def refused(args: list[str], *roots: Path, code: int = 2) -> str:
    """Run the CLI in-process; assert the exit code, no traceback, and that nothing under
    ``roots`` changed."""
    before = snapshot(*roots)
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert snapshot(*roots) == before, "a refused or failed run changed files"
    return " ".join(result.output.split())  # one paragraph, whatever the terminal wrapped


def cli(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """The CLI in a new process: forked from the warm server unless ``kwargs`` (``preexec_fn``)
    need ``subprocess``."""
    if not kwargs:
        return warm_python.run(
            [sys.executable, "-m", "seq2seq_es.cli", *args], env=ENV, timeout=600
        )
    return subprocess.run(
        [sys.executable, "-m", "seq2seq_es.cli", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
        **kwargs,
    )  # type: ignore[call-overload]


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` made unwritable: permission bits, or for root (who ignores them) the immutable
    flag."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode:
        pytest.skip(
            "running as root without `chattr +i` (CAP_LINUX_IMMUTABLE): cannot make a folder "
            "read-only"
        )
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


# ------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tokenizer_dir(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seq2seq_es.corpus.text_files import iter_texts
    from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
    from seq2seq_es.tokenizer.save import save_tokenizer

    folder = tmp_path_factory.mktemp("tokenizer")
    save_tokenizer(train_byte_level_bpe(iter_texts(tiny_data / "pretrain"), vocab_size=400), folder)
    return folder


@pytest.fixture(scope="module")
def pretrain_args(tiny_data: Path, tokenizer_dir: Path) -> list[str]:
    return [
        "pretrain",
        f"data={tiny_data / 'pretrain'}",
        f"tokenizer={tokenizer_dir}",
        "seq_len=32",
        "validation_blocks=4",
        "optim.batch_size=8",
        "optim.warmup_steps=2",
        "optim.steps=4",
        "engine.checkpoint_every=2",
        *QUIET,
    ]


@pytest.fixture(scope="module")
def finished(pretrain_args: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished pretraining run (4 steps, checkpoints at 2 and 4), the preset's default
    dropout."""
    folder = tmp_path_factory.mktemp("finished") / "run"
    result = runner.invoke(app, [*pretrain_args, f"output_dir={folder}"])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def run(finished: Path, tmp_path: Path) -> Path:
    """A copy of the finished run that a test may try to damage (mtimes kept)."""
    return Path(shutil.copytree(finished, tmp_path / "run"))


# ------------------------------------------------------------------------- identity and resume


@pytest.mark.parametrize("change", ["optim.lr=0.01", "seq_len=64", "optim.batch_size=4", "data"])
def test_resume_with_other_settings_is_refused_listing_them(
    change: str, run: Path, pretrain_args: list[str], tiny_data: Path, tmp_path: Path
) -> None:
    if change == "data":
        other = Path(shutil.copytree(tiny_data / "pretrain", tmp_path / "other_corpus"))
        change = f"data={other}"
    key = change.split("=")[0]
    output = refused(
        [*pretrain_args, change, "optim.steps=6", "--resume", f"output_dir={run}"],
        tmp_path,
        tiny_data,
    )
    assert f"Cannot resume {run}" in output and f"{key}: " in output
    assert "optim.steps" not in output.split("may change on resume")[0], (
        "a longer run is not a change of identity"
    )


def test_fingerprints_follow_contents_not_modification_times(tmp_path: Path) -> None:
    from seq2seq_es.run_record import file_fingerprints

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_text('{"text": "hola"}\n', encoding="utf-8")
    before = file_fingerprints({"data": data, "file": data / "a.jsonl"})
    os.utime(data / "a.jsonl", ns=(1, 1))  # copied again, re-synced, re-mounted
    assert file_fingerprints({"data": data, "file": data / "a.jsonl"}) == before
    (data / "a.jsonl").write_text(
        '{"text": "hoja"}\n', encoding="utf-8"
    )  # same size, other content
    after = file_fingerprints({"data": data, "file": data / "a.jsonl"})
    assert after["data"] != before["data"] and after["file"] != before["file"]
    (data / "b.jsonl").write_text("", encoding="utf-8")
    assert file_fingerprints({"data": data})["data"] != after["data"], (
        "a new file changes a folder's fingerprint"
    )


def test_a_run_resumes_after_its_data_was_copied_again(
    run: Path, pretrain_args: list[str], tiny_data: Path
) -> None:
    """Found running the tiny grid: a re-mounted data folder (new mtimes) made every resume
    refuse."""
    files = [path for path in (tiny_data / "pretrain").rglob("*") if path.is_file()]
    stamps = {path: path.stat().st_mtime_ns for path in files}
    try:
        for path in files:
            os.utime(path, ns=(time.time_ns(), time.time_ns()))
        result = runner.invoke(
            app, [*pretrain_args, "optim.steps=6", "--resume", f"output_dir={run}"]
        )
    finally:
        for path, stamp in stamps.items():
            os.utime(path, ns=(stamp, stamp))
    assert result.exit_code == 0, result.output
    assert json.loads((run / "summary.json").read_text(encoding="utf-8"))["steps"] == 6


def test_resume_with_nothing_to_resume_is_refused(
    pretrain_args: list[str], tmp_path: Path, tiny_data: Path
) -> None:
    output = refused(
        [*pretrain_args, "--resume", f"output_dir={tmp_path / 'new'}"], tmp_path, tiny_data
    )
    assert "Nothing to resume" in output and "without --resume" in output
    assert not (tmp_path / "new").exists()


def test_resume_of_a_finished_run_is_a_no_op_that_says_so(
    run: Path, pretrain_args: list[str], tmp_path: Path
) -> None:
    output = refused([*pretrain_args, "--resume", f"output_dir={run}"], tmp_path, code=0)
    assert "already finished at step 4" in output and "nothing to do" in output
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["steps"] == 4 and summary["final_train_loss"] > 0


def test_a_refused_run_does_not_touch_the_finished_run(
    run: Path, pretrain_args: list[str], tmp_path: Path, tiny_data: Path
) -> None:
    """The reported damage: config.yaml, run_info.json and data/tokens.bin were rewritten, then
    refused."""
    output = refused([*pretrain_args, "optim.steps=8", f"output_dir={run}"], tmp_path, tiny_data)
    assert "already holds this `pretrain` run" in output and "--resume" in output
    assert (run / "data" / "tokens.bin").is_file()


def test_another_command_cannot_write_into_a_run_folder(
    run: Path, tiny_data: Path, tmp_path: Path
) -> None:
    output = refused(
        ["tokenizer", f"input={tiny_data / 'pretrain'}", f"output_dir={run}", "vocab_size=300"],
        tmp_path,
        tiny_data,
    )
    assert "holds a `seq2seq-es pretrain` run" in output


def test_corpus_refuses_a_folder_made_from_other_inputs(tiny_data: Path, tmp_path: Path) -> None:
    source = Path(shutil.copy2(tiny_data / "pretrain" / "corpus.jsonl", tmp_path / "raw.jsonl"))
    out = tmp_path / "corpus"
    settings = [
        "dedup.exact=false",
        "dedup.minhash=false",
        "language.enabled=false",
        f"output_dir={out}",
    ]
    first = runner.invoke(app, ["corpus", f"input={source}", *settings])
    assert first.exit_code == 0, first.output
    other = Path(shutil.copy2(source, tmp_path / "other.jsonl"))
    output = refused(["corpus", f"input={other}", *settings], tmp_path)
    assert (
        f"{out} holds a `corpus` run made with other settings or inputs" in output
        and "input: " in output
    )
    with source.open("a", encoding="utf-8") as handle:  # same path, other content
        handle.write(json.dumps({"id": "new", "text": "otra cosa " * 40}) + "\n")
    assert "inputs.source.0: " in refused(["corpus", f"input={source}", *settings], tmp_path)


# ------------------------------------------------------------------------- checkpoints


def test_a_checkpoint_holding_pickles_is_refused(
    run: Path, pretrain_args: list[str], tmp_path: Path
) -> None:
    last = run / "checkpoints" / "step-00000004"
    (last / "random_states_0.pkl").write_bytes(pickle.dumps({"state": 1}))
    output = refused([*pretrain_args, "optim.steps=6", "--resume", f"output_dir={run}"], tmp_path)
    assert "holds pickle files (random_states_0.pkl)" in output and "could run code" in output


def test_a_truncated_checkpoint_is_refused(
    run: Path, pretrain_args: list[str], tmp_path: Path
) -> None:
    weights = run / "checkpoints" / "step-00000004" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    output = refused([*pretrain_args, "optim.steps=6", "--resume", f"output_dir={run}"], tmp_path)
    assert f"{weights}: " in output and "truncated" in output and "delete" in output


def test_a_truncated_model_folder_is_a_clear_error(
    finished: Path, tiny_data: Path, tmp_path: Path
) -> None:
    model = Path(shutil.copytree(finished / "model", tmp_path / "model"))
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    output = refused(
        [
            "finetune",
            f"task={tiny_data / 'copy_task.yaml'}",
            f"data_dir={tiny_data}",
            f"model={model}",
            f"output_dir={tmp_path / 'out'}",
            "optim.steps=2",
            *QUIET,
        ],
        tmp_path,
        tiny_data,
    )
    assert f"{model}: the weights cannot be loaded" in output
    assert not (tmp_path / "out").exists(), "the record of a run that never started is removed"


# ------------------------------------------------------------------------- the file system


def test_a_read_only_output_folder_is_refused_before_anything(
    pretrain_args: list[str], tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        output = refused([*pretrain_args, f"output_dir={locked / 'run'}"], tmp_path)
    assert f"output_dir={locked / 'run'} cannot be created: {locked} not writable" in output


def test_a_full_disk_is_a_clear_error_with_nothing_half_written(
    pretrain_args: list[str], tmp_path: Path, tiny_data: Path
) -> None:
    """A per-file size limit (``ulimit -f``) stands in for a full disk: the checkpoint's weights
    exceed it."""
    out = tmp_path / "run"
    before = snapshot(tiny_data, tmp_path)

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))  # Python ignores SIGXFSZ

    done = cli([*pretrain_args, f"output_dir={out}"], preexec_fn=limit_file_size)
    message = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        f"Cannot write checkpoint {out / 'checkpoints' / 'step-00000002'} (File too large"
        in message
    )
    assert not [p for p in out.rglob("*") if ".tmp" in p.name], "nothing half-written"
    assert snapshot(tiny_data, tmp_path) == {
        **before,
        **{k: v for k, v in snapshot(out).items()},
    }, "only the new run's folder changed"


# ------------------------------------------------------------------------- input data


def test_corpus_on_an_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    output = refused(["corpus", f"input={empty}", f"output_dir={tmp_path / 'out'}"], tmp_path)
    assert f"{empty}: the input is empty" in output and not (tmp_path / "out").exists()


@pytest.mark.parametrize("bad_line", [11, 150])
def test_non_utf8_bytes_name_their_line(bad_line: int, tmp_path: Path) -> None:
    corpus = tmp_path / "latin1.jsonl"
    lines = [
        json.dumps({"text": f"línea {i} " * 30}, ensure_ascii=False).encode()
        for i in range(1, bad_line)
    ]
    lines.append(json.dumps({"text": "niño " * 30}, ensure_ascii=False).encode("latin-1"))
    corpus.write_bytes(b"\n".join(lines) + b"\n")
    output = refused(
        ["tokenizer", f"input={corpus}", f"output_dir={tmp_path / 'tok'}", "vocab_size=300"],
        tmp_path,
    )
    assert f"{corpus}:{bad_line}: not UTF-8" in output and "iconv" in output


def test_the_tokenizer_refuses_a_text_the_corpus_stage_would_drop(tmp_path: Path) -> None:
    corpus = tmp_path / "dump.jsonl"
    texts = ["hola qué tal " * 20] * 10 + ["palabra " * 150_000]
    corpus.write_text(
        "".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8"
    )
    output = refused(
        ["tokenizer", f"input={corpus}", f"output_dir={tmp_path / 'tok'}", "vocab_size=300"],
        tmp_path,
    )
    assert (
        f"{corpus}:11: a text of 1,200,000 characters" in output and "seq2seq-es corpus" in output
    )


def test_a_missing_task_file_names_the_data_dir_key(
    tiny_data: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    output = refused(
        [
            "finetune",
            f"task={tiny_data / 'copy_task.yaml'}",
            f"data_dir={tmp_path / 'data'}",
            "model=barto-tiny",
            f"tokenizer={tokenizer_dir}",
            f"output_dir={tmp_path / 'out'}",
            *QUIET,
        ],
        tmp_path,
    )
    assert "data_dir=FOLDER" in output and "--data-dir" not in output


# ------------------------------------------------------------------------- Ctrl-C


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["ctrl-c", "sigterm"],
)
def test_ctrl_c_or_sigterm_stops_at_a_step_boundary_with_a_checkpoint_and_the_resume_command(
    pretrain_args: list[str], tmp_path: Path, signum: int, exit_code: int
) -> None:
    """SIGTERM is what Slurm sends before a preemption or a time limit: handled as Ctrl-C."""
    out = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seq2seq_es.cli",
            *pretrain_args,
            "optim.steps=400",
            f"output_dir={out}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    deadline = time.monotonic() + 600
    while not (
        (out / "metrics.jsonl").is_file()
        and len((out / "metrics.jsonl").read_text().splitlines()) >= 3
    ):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=600)
    message = " ".join(stderr.split())
    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    found = re.search(
        r"after step (\d+); checkpoint (\S+) holds it\. "
        r"Resume with: seq2seq-es pretrain --config (\S+) --resume",
        message,
    )
    assert found, message
    step, checkpoint, config = int(found.group(1)), Path(found.group(2)), Path(found.group(3))
    assert checkpoint == out / "checkpoints" / f"step-{step:08d}" and config == out / "config.yaml"
    assert len((out / "metrics.jsonl").read_text().splitlines()) == step, (
        "stopped at the step boundary"
    )
    resumed = cli(["pretrain", "--config", str(config), "--resume", f"optim.steps={step + 1}"])
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["steps"] == step + 1
