// The page's behaviour: build the form of the chosen task, send its text to /v1/generate,
// show the output and the latency. Plain browser JavaScript, no dependencies, no build step.
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
    const body = { inputs: [fill(task.template, values)], model: task.model, options: options };

    button.disabled = true;
    error.hidden = true;
    output.textContent = "";
    latency.textContent = "";
    form.dataset.state = "busy";
    const started = performance.now();
    try {
      const response = await fetch("/v1/generate", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const data = await response.json();
      const elapsed = Math.round(performance.now() - started);
      if (!response.ok) {
        showError(data.error || response.statusText);
        return;
      }
      const result = data.outputs[0];
      output.textContent = result.text === "" ? "(salida vacía)" : result.text;
      latency.textContent = "Latencia: " + elapsed + " ms (modelo y cola: " + data.latency_ms + " ms, " +
        result.tokens + " tokens)";
      form.dataset.state = "done";
    } catch (failure) {
      showError("No se pudo contactar con el servidor: " + failure.message);
    } finally {
      button.disabled = false;
    }
  }

  taskSelect.addEventListener("change", renderFields);
  form.addEventListener("submit", submit);
  renderFields();
})();
