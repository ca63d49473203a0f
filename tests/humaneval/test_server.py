"""The annotation server as a user meets it: a real ``humaneval serve`` process on a loopback
port."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from seq2seq_es.humaneval.store import RatingStore
from seq2seq_es.humaneval.study import load_study

from .conftest import ServerProcess, free_port, new_study, tokens_of

FORM = {"content-type": "application/x-www-form-urlencoded"}


def login(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10)
    response = client.post("/login", data={"token": token})
    assert response.status_code == 303 and response.headers["location"] == "/next"
    return client


def page_form(
    client: httpx.Client, position: int, score: int = 4, preference: str = "s1"
) -> dict[str, str]:
    """A complete answer to the page as the browser would send it (fields read from the HTML)."""
    html = client.get(f"/item/{position}").text
    fields = dict.fromkeys(sorted(set(re.findall(r'name="(s\d+\.[a-z_]+)"', html))), str(score))
    fields["revision"] = re.search(r'name="revision" value="(\d+)"', html).group(1)  # type: ignore[union-attr]
    if 'name="preference"' in html:
        fields["preference"] = preference
    return fields


def checked_values(html: str) -> list[str]:
    return re.findall(r'value="(\w+)" required checked', html)


def test_tokens_401_and_isolation_between_annotators(shared_server: ServerProcess) -> None:
    server = shared_server
    study = load_study(server.study)
    anonymous = httpx.Client(base_url=server.url, timeout=10)
    assert anonymous.get("/").status_code == 200  # the login page
    for path in ("/next", "/item/0", "/done", "/instructions"):
        assert anonymous.get(path).status_code == 401
    assert anonymous.post("/item/0", content=b"revision=0", headers=FORM).status_code == 401
    assert anonymous.post("/login", data={"token": "no-es-un-codigo"}).status_code == 401
    assert anonymous.get("/item/0", headers={"authorization": "Bearer nada"}).status_code == 401
    empty_cookie = httpx.Client(base_url=server.url, cookies={"humaneval_token": ""}, timeout=10)
    assert empty_cookie.get("/item/0").status_code == 401

    tokens = tokens_of(study.path)
    first = login(server.url, tokens["anotador-1"])
    assert first.get("/next").headers["location"] == "/item/0"
    saved = first.post("/item/0", data=page_form(first, 0, score=5))
    assert saved.status_code == 303 and saved.headers["location"] == "/next"
    assert set(checked_values(first.get("/item/0").text)) == {"5", "s1"}
    assert first.get("/next").headers["location"] == "/item/1"

    second = login(server.url, tokens["anotador-2"])
    assert second.get("/next").headers["location"] == "/item/0"
    own_page = second.get("/item/0").text
    assert checked_values(own_page) == [] and "Ya valorada" not in own_page
    assert "anotador-1" not in own_page
    # the same token by header works too (scripts), and still only shows the caller's own ratings
    by_header = httpx.get(
        server.url + "/item/0", headers={"authorization": f"Bearer {tokens['anotador-2']}"}
    )
    assert checked_values(by_header.text) == []
    assert RatingStore(study.database).pages("anotador-2") == []
    assert [p.position for p in RatingStore(study.database).pages("anotador-1")] == [0]


def test_bad_requests_get_4xx_and_change_nothing(shared_server: ServerProcess) -> None:
    server = shared_server
    study = load_study(server.study)
    client = login(server.url, tokens_of(study.path)["anotador-3"])
    good = page_form(client, 0)
    criterion_field = next(k for k in good if k.startswith("s1."))

    def post(
        data: object = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        position: object = 0,
    ) -> int:
        response = client.post(f"/item/{position}", data=data, content=content, headers=headers)  # type: ignore[arg-type]
        assert response.status_code < 500, response.text
        return response.status_code

    assert post({**good, criterion_field: "6"}) == 422  # out of range
    assert post({**good, criterion_field: "0"}) == 422
    assert post({**good, criterion_field: "-1"}) == 422
    assert post({**good, criterion_field: "cuatro"}) == 422
    assert post({**good, criterion_field: "4.5"}) == 422
    assert post({**good, "preference": "s9"}) == 422
    assert post({**good, "s3.adequacy": "4"}) == 422  # a slot that does not exist
    assert post({**good, "annotator": "anotador-2"}) == 422  # unknown field
    assert post({k: v for k, v in good.items() if k != criterion_field}) == 422  # missing answer
    assert post({k: v for k, v in good.items() if k != "revision"}) == 422
    assert (
        post(
            content=(httpx.QueryParams(good).__str__() + f"&{criterion_field}=3").encode(),
            headers=FORM,
        )
        == 422
    )
    assert post(content=b"\xff\xfe\x00garbage", headers=FORM) == 422  # not UTF-8
    assert post(content=b"a=1&&=&b", headers=FORM) == 422  # malformed
    assert post(content=b"x" * 100_000, headers=FORM) == 413
    assert post(content=b'{"revision": 0}', headers={"content-type": "application/json"}) == 415
    assert post(good, position=999) == 404  # unknown page
    assert post(good, position=-1) == 404
    assert post(good, position="uno") == 422
    assert client.get("/item/999").status_code == 404
    assert post(good, position=3) == 409  # ahead of the first unrated page
    assert client.get("/item/3").status_code == 409
    assert RatingStore(study.database).pages("anotador-3") == []

    assert post(good) == 303
    assert post(good) == 409  # the same form again: a double submission
    again = page_form(client, 0, score=2)  # going back and changing an answer is allowed
    assert again["revision"] == "1"
    assert post(again) == 303
    pages = RatingStore(study.database).pages("anotador-3")
    assert len(pages) == 1 and pages[0].revision == 2
    assert set(pages[0].answers.scores.values()) == {2}
    assert client.request("DELETE", "/item/0").status_code == 405


def test_sigkill_mid_study_loses_no_submitted_rating(tmp_path: Path, server_factory: type) -> None:
    study = new_study(tmp_path, annotators=2)
    tokens = tokens_of(study.path)
    server = server_factory(study.path, free_port()).start()
    first, second = login(server.url, tokens["anotador-1"]), login(server.url, tokens["anotador-2"])
    for position, score in enumerate([5, 3, 1]):
        assert (
            first.post(f"/item/{position}", data=page_form(first, position, score)).status_code
            == 303
        )
    assert second.post("/item/0", data=page_form(second, 0, 2, "tie")).status_code == 303
    server.kill()  # SIGKILL right after the last answer

    restarted = server_factory(study.path, free_port()).start()
    first, second = (
        login(restarted.url, tokens["anotador-1"]),
        login(restarted.url, tokens["anotador-2"]),
    )
    assert first.get("/next").headers["location"] == "/item/3"  # resumes where it stopped
    for position, score in enumerate([5, 3, 1]):
        assert str(score) in checked_values(first.get(f"/item/{position}").text)
    assert "tie" in checked_values(second.get("/item/0").text)
    pages = RatingStore(study.database).pages()
    assert sorted((p.annotator, p.position) for p in pages) == [
        ("anotador-1", 0),
        ("anotador-1", 1),
        ("anotador-1", 2),
        ("anotador-2", 0),
    ]
    assert all(p.answers.preference is not None for p in pages)
