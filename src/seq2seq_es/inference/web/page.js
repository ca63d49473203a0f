// The page's behaviour: build the form of the chosen task, send its text, show the output
// (token by token when the decoding is one hypothesis: POST /models/{model} with stream=true,
// TGI's server-sent events; a beam search answers at the end, through /v1/generate) and the
// latency. Plain browser JavaScript, no dependencies, no build step.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const form = document.getElementById("generate-form");
  const taskSelect = document.getElementById("task");
  const fieldsBox = document.getElementById("fields");
  const hint = document.getElementById("task-hint");
  const modelName = document.getElementById("model-name");
  const button = document.getElementById("submit");
  const output = document.getElementById("output");
  const latency = document.getElementById("latency");
  const error = document.getElementById("error");

  // Control and bidi-formatting characters shown as a visible marker, never obeyed (the
  // server's text_display.py applies the same rule): U+202E must not reverse what follows.
  const CONTROL_CHARS =
    /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;
  function visibleText(text) {
    return text.replace(CONTROL_CHARS, (c) =>
      "\u27e6U+" + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0") + "\u27e7");
  }

  function showOutput(text) {
    output.textContent = text === "" ? "(salida vacía)" : visibleText(text);
  }

  function currentTask() {
    return config.tasks.find((task) => task.key === taskSelect.value) || config.tasks[0];
  }

  function renderFields() {
    const task = currentTask();
    fieldsBox.replaceChildren();
    for (const field of task.fields) {
      const label = document.createElement("label");
      label.htmlFor = "field-" + field.name;
      label.textContent = field.label;
      const input = document.createElement(field.short ? "input" : "textarea");
      input.id = "field-" + field.name;
      input.name = field.name;
      input.maxLength = config.maxChars;
      input.required = true;
      input.dir = "auto";
      if (!field.short) input.rows = 6;
      fieldsBox.append(label, input);
    }
    hint.textContent = task.hint;
    modelName.textContent = "modelo: " + task.model;
  }

  // Placeholders are replaced in one pass, so braces typed by the user stay as typed.
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (match, name) => (name in values ? values[name] : match));
  }

  function numberOption(id) {
    const value = document.getElementById(id).value.trim();
    return value === "" ? undefined : Number.parseInt(value, 10);
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
    form.dataset.state = "error";
  }

  async function submit(event) {
    event.preventDefault();
    const task = currentTask();
    const values = {};
    for (const field of task.fields) {
      values[field.name] = document.getElementById("field-" + field.name).value.trim();
      if (values[field.name] === "") {
        showError("Falta el campo «" + field.label + "».");
        return;
      }
    }
    const options = {};
    const beams = numberOption("num-beams");
    const maxNewTokens = numberOption("max-new-tokens");
    if (beams !== undefined) options.num_beams = beams;
    if (maxNewTokens !== undefined) options.max_new_tokens = maxNewTokens;
    const text = fill(task.template, values);
    const beamsUsed = beams !== undefined ? beams : config.defaultBeams[task.model] || 1;

    button.disabled = true;
    error.hidden = true;
    output.textContent = "";
    output.dataset.events = "0";
    latency.textContent = "";
    form.dataset.state = "busy";
    const started = performance.now();
    try {
      const result = beamsUsed === 1
        ? await streamTokens(task.model, text, maxNewTokens)
        : await generateAll(task.model, text, options);
      if (result === null) return;
      const elapsed = Math.round(performance.now() - started);
      showOutput(result.text);
      latency.textContent = "Latencia: " + elapsed + " ms (" + result.tokens + " tokens" +
        (result.firstTokenMs !== undefined ? ", primer token: " + result.firstTokenMs + " ms" : "") +
        ")";
      form.dataset.state = "done";
    } catch (failure) {
      showError("No se pudo contactar con el servidor: " + failure.message);
    } finally {
      button.disabled = false;
    }
  }

  // A beam search: one request to the batch API, the answer at the end.
  async function generateAll(model, text, options) {
    const response = await fetch("/v1/generate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ inputs: [text], model: model, options: options }),
    });
    const data = await response.json();
    if (!response.ok) {
      showError(data.error || response.statusText);
      return null;
    }
    return { text: data.outputs[0].text, tokens: data.outputs[0].tokens };
  }

  // One hypothesis: TGI's event stream, each token shown as it arrives.
  async function streamTokens(model, text, maxNewTokens) {
    const parameters = maxNewTokens !== undefined ? { max_new_tokens: maxNewTokens } : {};
    const started = performance.now();
    const response = await fetch("/models/" + encodeURIComponent(model), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ inputs: text, parameters: parameters, stream: true }),
    });
    if (!response.ok) {
      const data = await response.json();
      showError(data.error || response.statusText);
      return null;
    }
    form.dataset.state = "streaming";
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let shown = "";
    let events = 0;
    let firstTokenMs;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, end).trim();
        buffer = buffer.slice(end + 2);
        if (!line.startsWith("data:")) continue;
        const event = JSON.parse(line.slice(5));
        if (event.error) {
          showError(event.error);
          return null;
        }
        events += 1;
        output.dataset.events = String(events);
        if (firstTokenMs === undefined) firstTokenMs = Math.round(performance.now() - started);
        if (!event.token.special) {
          shown += event.token.text;
          output.textContent = visibleText(shown.trimStart());
        }
        if (event.generated_text !== null) {
          return {
            text: event.generated_text,
            tokens: event.details.generated_tokens,
            firstTokenMs: firstTokenMs,
          };
        }
      }
    }
    showError("El servidor cerró la conexión antes de terminar.");
    return null;
  }

  window.seq2seqEs = { visibleText: visibleText }; // for the console (and the browser tests)
  taskSelect.addEventListener("change", renderFields);
  form.addEventListener("submit", submit);
  renderFields();
})();
