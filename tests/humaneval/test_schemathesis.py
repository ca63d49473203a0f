"""schemathesis (``--checks all``, bounded) against the annotation app's OpenAPI schema, as a
logged-in annotator (``Authorization: Bearer``) of a study of its own."""

from __future__ import annotations

from pathlib import Path

from tests.humaneval.conftest import ServerProcess, free_port, new_study, tokens_of

from schemathesis_runner import run_schemathesis

# The answers a form may hold depend on the study's protocol and on the page: the schema
# cannot say which generated forms are complete, so "a valid form must be accepted" is not
# checked (the form rules have their own tests in test_forms.py).
NOT_CHECKED = ["--exclude-checks", "positive_data_acceptance"]


def test_schemathesis_finds_nothing_in_the_annotation_app(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    study = new_study(tmp_path, annotators=1)
    server = server_factory(study.path, free_port()).start()
    token = tokens_of(study.path)["anotador-1"]
    result = run_schemathesis(
        server.url, "-H", f"Authorization: Bearer {token}", *NOT_CHECKED, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
