"""Routes that existing clients speak: text-generation-inference (TGI) and Hugging Face
Inference.

Why: a user with ``huggingface_hub.InferenceClient`` or a TGI client should point it at
``serve`` and have it work, unchanged. What they send (read from huggingface_hub 2.4's
source and TGI's OpenAPI schema):

* ``POST /generate`` ``{"inputs": str, "parameters": {...}}`` → ``{"generated_text": ...,
  "details": ...}`` (details when ``parameters.details``);
* ``POST /generate_stream`` → server-sent events, one ``data: {"index", "token": {"id",
  "text", "logprob", "special"}, "generated_text", "details"}`` per token; the last one
  carries the whole text and the details (TGI's format);
* ``GET /info``: the model and its limits;
* ``POST /`` and ``POST /models/{model}``: where ``InferenceClient(base_url=URL)`` posts
  ``translation``, ``summarization`` and ``text_generation`` (the same payload, plus
  ``"stream": true`` for a stream). The answer is a list of one object carrying the text
  under each of those tasks' keys (``generated_text``, ``translation_text``,
  ``summary_text``): one URL serves all three and the client reads its own key.

Decoding is greedy unless the request asks otherwise (TGI has no beams; HF clients may
pass ``generate_parameters.num_beams``). A beam search cannot emit a token before it ends,
so a stream that asks for beams is one event: the whole text, at the end. Parameters we do not
implement (``stop``, ``repetition_penalty``, ...) are refused with TGI's own 400 message,
``The following `model_kwargs` are not used by the model: [...]``, from which
``InferenceClient`` drops them and retries (with a warning), as it does with other servers.
``logprob`` is ``null``: tokens come from the decoding loop, before any score.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from seq2seq_es.inference.api_errors import errors, json_int
from seq2seq_es.inference.config import GenerationOptions, ServeLimits
from seq2seq_es.inference.model_service import Checked, ClientGone, ModelService, client_gone

TASK_KEYS = ("generated_text", "translation_text", "summary_text")
# Parameters accepted only at their "off" value: name → the values that mean "not used".
UNUSED_UNLESS: dict[str, tuple[Any, ...]] = {
    "stop": ([], None),
    "truncate": (None,),
    "repetition_penalty": (None, 1.0),
    "frequency_penalty": (None, 0.0),
    "typical_p": (None, 1.0),
    "watermark": (None, False),
    "best_of": (None, 1),
    "top_n_tokens": (None, 0),
    "grammar": (None,),
    "adapter_id": (None,),
    "decoder_input_details": (None, False),
    "src_lang": (None,),
    "tgt_lang": (None,),
    "truncation": (None, "do_not_truncate"),
    "clean_up_tokenization_spaces": (None,),
}


def _unused_field(name: str) -> Any:
    return Field(
        None,
        json_schema_extra={"enum": list(UNUSED_UNLESS[name])},
        description="Not implemented: only this value is accepted (others: 400).",
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def compat_schemas(limits: ServeLimits) -> tuple[type[BaseModel], type[BaseModel]]:
    """``(CompatRequest, CompatParameters)`` with the configured limits in the schema."""

    class GenerateParameters(_Strict):
        """``generate_parameters`` of the HF summarization/translation tasks."""

        max_new_tokens: json_int(1, limits.max_new_tokens) | None = None  # type: ignore[valid-type]
        num_beams: json_int(1, limits.max_num_beams) | None = None  # type: ignore[valid-type]
        do_sample: bool | None = None
        temperature: float | None = Field(None, ge=0.01, le=100.0)
        top_k: json_int(0, 1000) | None = None  # type: ignore[valid-type]
        top_p: float | None = Field(None, gt=0.0, le=1.0)
        length_penalty: float | None = Field(None, ge=-10.0, le=10.0)
        no_repeat_ngram_size: json_int(0, 16) | None = None  # type: ignore[valid-type]
        seed: json_int(0, 2**31 - 1) | None = None  # type: ignore[valid-type]

    class CompatParameters(GenerateParameters):
        """TGI's ``parameters`` (and the HF tasks'): unset ones take the model's defaults."""

        details: bool = False
        return_full_text: bool | None = None
        generate_parameters: GenerateParameters | None = None
        # Accepted only "off" (the schema says which values); any other value is TGI's 400.
        stop: Any = _unused_field("stop")
        truncate: Any = _unused_field("truncate")
        repetition_penalty: Any = _unused_field("repetition_penalty")
        frequency_penalty: Any = _unused_field("frequency_penalty")
        typical_p: Any = _unused_field("typical_p")
        watermark: Any = _unused_field("watermark")
        best_of: Any = _unused_field("best_of")
        top_n_tokens: Any = _unused_field("top_n_tokens")
        grammar: Any = _unused_field("grammar")
        adapter_id: Any = _unused_field("adapter_id")
        decoder_input_details: Any = _unused_field("decoder_input_details")
        src_lang: Any = _unused_field("src_lang")
        tgt_lang: Any = _unused_field("tgt_lang")
        truncation: Any = _unused_field("truncation")
        clean_up_tokenization_spaces: Any = _unused_field("clean_up_tokenization_spaces")

    text = Annotated[str, StringConstraints(min_length=1, max_length=limits.max_input_chars)]

    class CompatRequest(_Strict):
        """A TGI / Hugging Face Inference request: one text."""

        inputs: text
        parameters: CompatParameters = Field(default_factory=CompatParameters)
        stream: bool | None = None

    return CompatRequest, CompatParameters


def _same_json(value: Any, expected: Any) -> bool:
    """Equal as JSON values: 1 and 1.0 are, 0 and false are not (Python says 0 == False)."""
    if isinstance(value, bool) or isinstance(expected, bool) or value is None or expected is None:
        return type(value) is type(expected) and value == expected
    return bool(value == expected)


def _options(parameters: Any) -> GenerationOptions:
    """The decoding options a compat request asks for: greedy unless it says otherwise."""
    unused = [
        name
        for name, offs in UNUSED_UNLESS.items()
        if not any(_same_json(getattr(parameters, name), off) for off in offs)
    ]
    if unused:
        raise HTTPException(
            400,
            f"The following `model_kwargs` are not used by the model: {unused} (seq2seq-es "
            "does not implement them; leave them out).",
        )
    values = {
        name: value
        for name, value in parameters.model_dump(
            include=set(GenerationOptions.model_fields), exclude_none=True
        ).items()
    }
    nested = parameters.generate_parameters
    if nested is not None:
        values |= nested.model_dump(exclude_none=True)
    return GenerationOptions.model_validate({"num_beams": 1} | values)


def _details(service: ModelService, output: dict[str, Any], options: GenerationOptions) -> Any:
    limit = service.resolved(options).max_new_tokens or 0
    return {
        "finish_reason": "length" if output["tokens"] >= limit else "eos_token",
        "generated_tokens": output["tokens"],
        "seed": options.seed,
        "prefill": [],
        "tokens": [],
    }


def compat_router(services: Mapping[str, ModelService], limits: ServeLimits) -> APIRouter:
    """The TGI and Hugging Face Inference routes over ``services`` (the first is the default)."""
    router = APIRouter(tags=["TGI and Hugging Face Inference"])
    CompatRequest, _ = compat_schemas(limits)
    default = next(iter(services))

    def service_for(model: str | None) -> ModelService:
        if model is None:
            return services[default]
        if model not in services:
            raise HTTPException(404, f"No served model {model!r}; served: {', '.join(services)}.")
        return services[model]

    async def generate_one(
        service: ModelService, body: Any, request: Request
    ) -> tuple[dict[str, Any], GenerationOptions]:
        options = _options(body.parameters)
        outputs, _ = await service.answer([body.inputs], options, request.receive)
        output = outputs[0]
        if body.parameters.return_full_text:
            output = output | {"text": body.inputs + output["text"]}
        return output, options

    async def answer_or_stream(service: ModelService, body: Any, request: Request) -> Any:
        if body.stream:
            return await _stream(service, body)
        try:
            output, options = await generate_one(service, body, request)
        except ClientGone:
            return client_gone()
        answer: dict[str, Any] = {key: output["text"] for key in TASK_KEYS}
        if body.parameters.details:
            answer["details"] = _details(service, output, options)
        return [answer]

    @router.post("/generate", summary="TGI: generate from one text")
    async def tgi_generate(body: CompatRequest, request: Request) -> Any:  # type: ignore[valid-type]
        service = service_for(None)
        try:
            output, options = await generate_one(service, body, request)
        except ClientGone:
            return client_gone()
        answer: dict[str, Any] = {"generated_text": output["text"]}
        if body.parameters.details:  # type: ignore[attr-defined]
            answer["details"] = _details(service, output, options)
        return answer

    @router.post(
        "/generate_stream",
        summary="TGI: generate from one text, one server-sent event per token",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def tgi_generate_stream(body: CompatRequest) -> Any:  # type: ignore[valid-type]
        return await _stream(service_for(None), body)

    answer_content: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "A list of one answer, or (with stream: true) TGI's event stream",
            "content": {"application/json": {}, "text/event-stream": {}},
        }
    }

    @router.post(
        "/", summary="Hugging Face Inference / TGI: the default model", responses=answer_content
    )
    async def hf_default(body: CompatRequest, request: Request) -> Any:  # type: ignore[valid-type]
        return await answer_or_stream(service_for(None), body, request)

    @router.post(
        "/models/{model}",
        summary="Hugging Face Inference: a served model by name",
        responses=answer_content | errors(404),
    )
    async def hf_model(model: str, body: CompatRequest, request: Request) -> Any:  # type: ignore[valid-type]
        return await answer_or_stream(service_for(model), body, request)

    @router.get("/info", summary="TGI: the served model and its limits")
    async def info() -> dict[str, Any]:
        from seq2seq_es import __version__

        service = services[default]
        max_input = min(limits.max_input_tokens, service.engine.max_source_length)
        return {
            "model_id": default,
            "model_sha": None,
            "model_dtype": "float32" if service.engine.name == "transformers" else "ctranslate2",
            "model_device_type": "cpu",
            "model_pipeline_tag": "text2text-generation",
            "max_concurrent_requests": limits.max_connections,
            "max_best_of": 1,
            "max_stop_sequences": 0,
            "max_input_tokens": max_input,
            "max_input_length": max_input,
            "max_total_tokens": max_input + limits.max_new_tokens,
            "max_client_batch_size": 1,
            "validation_workers": 1,
            "router": "seq2seq-es",
            "version": __version__,
            "sha": None,
            "docker_label": None,
        }

    return router


def _event(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _stream(service: ModelService, body: Any) -> StreamingResponse:
    """Check and queue the request now (a refusal is a plain JSON 4xx), then stream its tokens."""
    options = _options(body.parameters)
    beams = (service.resolved(options).num_beams or 1) > 1
    checked = await service.check([body.inputs], options)
    loop = asyncio.get_running_loop()
    tokens: asyncio.Queue[int] = asyncio.Queue()

    def on_token(token_id: int) -> None:  # called from the worker thread
        loop.call_soon_threadsafe(tokens.put_nowait, token_id)

    ticket = service.enqueue(checked, None if beams else on_token)
    prefix = body.inputs if body.parameters.return_full_text else ""
    events = _token_events(service, checked, ticket, tokens, options, prefix)
    return StreamingResponse(events, media_type="text/event-stream")


async def _token_events(
    service: ModelService,
    checked: Checked,
    ticket: Any,
    tokens: asyncio.Queue[int],
    options: GenerationOptions,
    prefix: str,
) -> AsyncIterator[bytes]:
    """One event per token as decoded; the last token's event carries the text and details.

    A token is sent when the next one (or the end) arrives, so that the last event can carry
    ``generated_text`` as TGI's does. The text of each token is the growth of the decoded
    text (byte-level BPE splits characters across tokens; a partial one waits).
    """
    work = asyncio.ensure_future(service.wait(ticket))

    async def next_token() -> int | None:
        """The next token id, or None once the decoding is over and every token was taken."""
        if not tokens.empty() or work.done():
            return tokens.get_nowait() if not tokens.empty() else None
        getter = asyncio.ensure_future(tokens.get())
        done, _ = await asyncio.wait({getter, work}, return_when="FIRST_COMPLETED")
        if getter in done:
            return getter.result()
        getter.cancel()
        return tokens.get_nowait() if not tokens.empty() else None

    ids: list[int] = []
    sent_text, held = "", None
    try:
        while (token_id := await next_token()) is not None:
            ids.append(token_id)
            special = service.tokenizer.is_special(token_id)
            text = service.tokenizer.text_of(ids)
            piece = "" if special or text.endswith("\ufffd") else text[len(sent_text) :]
            sent_text = text if piece else sent_text
            if held is not None:
                yield _event(held)
            held = _token_event(len(ids), token_id, piece, special)
        try:
            output = service.outputs(checked, await work)[0]
        except HTTPException as exc:
            yield _event({"error": str(exc.detail), "error_type": "overloaded"})
            return
        except Exception as exc:  # the engine failed: the stream says so instead of just ending
            yield _event({"error": f"generation failed: {exc}", "error_type": "generation"})
            return
        final = held or _token_event(1, -1, output["text"], False)  # a beam search: one event
        final["generated_text"] = prefix + output["text"]
        final["details"] = {
            "finish_reason": _details(service, output, options)["finish_reason"],
            "generated_tokens": output["tokens"],
            "input_length": checked.counts[0],
            "seed": options.seed,
        }
        yield _event(final)
    finally:
        if not work.done():
            work.cancel()


def _token_event(index: int, token_id: int, text: str, special: bool) -> dict[str, Any]:
    return {
        "index": index,
        "token": {"id": token_id, "text": text, "logprob": None, "special": special},
        "generated_text": None,
        "details": None,
        "top_tokens": None,
    }
