import gzip
import os
import stat
from pathlib import Path

import pytest

from seq2seq_es.errors import DataError
from seq2seq_es.files import atomic_dir, atomic_write, read_jsonl, write_jsonl


def test_roundtrip_plain_and_gzip(tmp_path: Path) -> None:
    records = [{"text": "niño ¿qué? 😀"}, {"text": "b"}]
    for name in ("a.jsonl", "a.jsonl.gz"):
        assert write_jsonl(tmp_path / name, records) == 2
        assert read_jsonl(tmp_path / name) == records


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "a"}\n{"text": broken\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.jsonl:2: not valid JSON"):
        read_jsonl(path)


def test_not_an_object_and_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(DataError, match="expected a JSON object"):
        read_jsonl(path)
    path.write_text('{"txt": "a"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.jsonl:1: missing field\(s\) \['text'\]"):
        read_jsonl(path, required=["text"])


def test_non_utf8_and_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"text": "niño"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_jsonl(path)
    gz = tmp_path / "cut.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"text": "a"}\n' * 1000)[:50])
    with pytest.raises(DataError, match="cannot read"):
        read_jsonl(gz)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_jsonl(tmp_path / "none.jsonl")


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("half")
        raise RuntimeError("crash")
    assert target.read_text(encoding="utf-8") == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_dir_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "a").write_text("2", encoding="utf-8")
        raise RuntimeError("crash")
    assert (target / "a").read_text(encoding="utf-8") == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize(
    ("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]
)
def test_outputs_get_the_modes_the_umask_gives(
    tmp_path: Path, umask: int, file_mode: int, dir_mode: int
) -> None:
    """tempfile makes 0600 files and 0700 folders; renamed into place, other users and serving
    containers could not read model.safetensors, config.yaml or scores.json under umask 022."""
    old = os.umask(umask)
    try:
        with atomic_write(tmp_path / "scores.json") as handle:
            handle.write("{}")
        with atomic_write(tmp_path / "rows.jsonl.gz") as handle:
            handle.write("{}\n")
        with atomic_dir(tmp_path / "model") as folder:
            (folder / "config.json").write_text("{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "scores.json").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "rows.jsonl.gz").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == dir_mode
    assert stat.S_IMODE((tmp_path / "model" / "config.json").stat().st_mode) == file_mode
