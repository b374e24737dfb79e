// The control page: a view of the daemon. Every change is a write of config.yaml through the server;
// the form is built from /api/form (the configuration schema), so there is no per-key code here.
"use strict";

const $ = (sel) => document.querySelector(sel);
const VIEWS = ["original", "mask", "result"];
let fields = {};       // key -> {spec, input, error}
let lastValues = {};

// The per-start secret: `vcamstyle ui` opens /#secret=... (a fragment is never sent to a server). It is
// kept in this tab's sessionStorage (this origin only, port included) and sent as a header, never as a
// cookie (a 127.0.0.1 cookie would go to every port of the host, other local servers included).
const SECRET = (() => {
  const found = /(?:^#|&)secret=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (found) {
    sessionStorage.setItem("vcamstyle-secret", found[1]);
    history.replaceState(null, "", location.pathname);  // out of the address bar (and a shared screen)
  }
  return sessionStorage.getItem("vcamstyle-secret") || "";
})();
const NO_SECRET = "This page needs the daemon's secret: open it with `vcamstyle ui`.";

function authFetch(path, init = {}) {
  return fetch(path, {...init, headers: {...(init.headers || {}), "x-vcamstyle-secret": SECRET}});
}

async function refusalText(r) {
  const text = await r.text().catch(() => "");
  try { return JSON.parse(text).error || text; } catch (e) { return text || ("refused (" + r.status + ")"); }
}

function api(path, body) {
  const init = body === undefined ? {} : {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)};
  return authFetch(path, init).then(async (r) => {
    if (r.status === 401 || r.status === 403) { const error = await refusalText(r); banner(error); return {ok: false, status: r.status, data: {error}}; }
    return {ok: r.ok, status: r.status, data: await r.json().catch(() => ({}))};
  });
}

function banner(text) {
  const b = $("#banner");
  b.hidden = !text;
  b.textContent = text || "";
}

// ---------------------------------------------------------------- settings
function yamlText(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function makeInput(spec) {
  let input;
  if (spec.kind === "bool") {
    input = document.createElement("input");
    input.type = "checkbox";
  } else if (spec.kind === "choice") {
    input = document.createElement("select");
    for (const choice of spec.choices) {
      const option = document.createElement("option");
      option.value = option.textContent = choice;
      input.appendChild(option);
    }
  } else if (spec.kind === "number" && spec.min !== null && spec.max !== null && spec.max - spec.min <= 1) {
    input = document.createElement("input");
    input.type = "range";
    input.min = spec.min; input.max = spec.max; input.step = spec.step;
  } else {
    input = document.createElement("input");
    input.type = spec.kind === "number" ? "number" : "text";
    if (spec.kind === "number") {
      if (spec.min !== null) input.min = spec.min;
      if (spec.max !== null) input.max = spec.max;
      input.step = spec.integer ? 1 : "any";
    }
  }
  input.id = "field-" + spec.key.replace(/\./g, "-");
  input.name = spec.key;
  return input;
}

function inputText(spec, input) {
  if (spec.kind === "bool") return input.checked ? "true" : "false";
  if (input.type === "number" && input.value === "") return "null";
  if (spec.kind === "color" || (spec.kind === "text" && /^[#@&*!|>%'"]/.test(input.value))) return JSON.stringify(input.value);
  return input.value;
}

function showValue(key) {
  const f = fields[key];
  if (!f || document.activeElement === f.input) return;
  const value = key in lastValues ? lastValues[key] : f.spec.default;
  if (f.spec.kind === "bool") f.input.checked = value === true;
  else f.input.value = Array.isArray(value) ? JSON.stringify(value) : (value === null ? "" : String(value));
  if (f.output) f.output.textContent = f.input.value;
}

async function change(key) {
  const f = fields[key];
  f.error.textContent = "";
  const r = await api("/api/config", {changes: {[key]: inputText(f.spec, f.input)}});
  if (!r.ok) {
    f.error.textContent = r.data.error || ("refused (" + r.status + ")");
    f.input.dataset.refused = "1";
    return;
  }
  delete f.input.dataset.refused;
  lastValues = r.data.values || lastValues;
}

function buildForm(sections) {
  const form = $("#settings");
  for (const section of sections) {
    const set = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = section.section;
    legend.title = section.help;
    set.appendChild(legend);
    for (const spec of section.fields) {
      const div = document.createElement("div");
      div.className = "field";
      const label = document.createElement("label");
      const input = makeInput(spec);
      label.htmlFor = input.id;
      label.textContent = spec.key.split(".").pop().replace(/_/g, " ");
      const help = document.createElement("div");
      help.className = "help";
      help.textContent = spec.help;
      const error = document.createElement("div");
      error.className = "error";
      error.id = input.id + "-error";
      div.append(label, help, input);
      let output = null;
      if (input.type === "range") {
        output = document.createElement("output");
        div.appendChild(output);
        input.addEventListener("input", () => { output.textContent = input.value; });
      }
      div.appendChild(error);
      input.addEventListener("change", () => change(spec.key));
      set.appendChild(div);
      fields[spec.key] = {spec, input, error, output};
    }
    form.appendChild(set);
  }
  form.addEventListener("submit", (e) => e.preventDefault());
}

// ---------------------------------------------------------------- status
function showState(state) {
  const s = state.status || {};
  lastValues = state.values || {};
  Object.keys(fields).forEach(showValue);
  const stages = Object.entries(s.stage_ms || {}).map(([k, v]) => `${k} ${Number(v).toFixed(1)}`).join(", ");
  const w = s.watchers || {};
  $("#status").textContent = `${s.state || "?"} · ${Number(s.fps || 0).toFixed(1)} fps · style size ${s.style_size ?? "-"} · ` +
    `output ${s.output || "-"} · apps watching: ${(s.consumer_apps || []).join(", ") || (s.consumers ?? "-")} · ` +
    `pages ${w.pages ?? 0} · stages ms: ${stages || "-"}`;
  $("#preview-note").textContent = s.state === "idle" ? "(idle: no app has the virtual camera open, so the camera is off)" : "";
  banner([state.file_error, s.last_error, s.preview_error].filter(Boolean).join("\n"));
}

// ---------------------------------------------------------------- preview
let socket = null;
async function connect() {
  // A browser's WebSocket cannot send a header: buy a one-use, short-lived ticket with the secret first.
  const t = await api("/api/ticket", {}).catch(() => ({ok: false, data: {}}));
  if (!t.ok) {
    $("#status").textContent = (t.data.error || "disconnected (is the daemon running? `vcamstyle start`)") + "; retrying…";
    setTimeout(connect, 2000);
    return;
  }
  socket = new WebSocket(`ws://${location.host}/ws?ticket=${encodeURIComponent(t.data.ticket)}`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => sendWish();
  socket.onmessage = (event) => {
    if (typeof event.data === "string") { showState(JSON.parse(event.data)); return; }
    const bytes = new Uint8Array(event.data);
    const img = $("#view-" + VIEWS[bytes[0]]);
    if (!img) return;
    const old = img.src;
    img.src = URL.createObjectURL(new Blob([bytes.subarray(1)], {type: "image/jpeg"}));
    img.dataset.frames = String(Number(img.dataset.frames || 0) + 1);
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  };
  socket.onclose = (event) => {
    $("#status").textContent = (event.reason || "disconnected (is the daemon running? `vcamstyle start`)") + "; retrying…";
    setTimeout(connect, 2000);
  };
}

function sendWish() {
  const sideBySide = $("#side-by-side").checked;
  document.querySelectorAll(".view").forEach((v) => { v.hidden = !sideBySide && v.dataset.view !== "result"; });
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({preview: !document.hidden, side_by_side: sideBySide}));
}

// ---------------------------------------------------------------- gallery
async function loadGallery() {
  const r = await api("/api/gallery");
  const grid = $("#gallery");
  grid.querySelectorAll("img").forEach((img) => { if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src); });
  grid.textContent = "";
  for (const s of r.data.styles || []) {
    const card = document.createElement("div");
    card.className = "style";
    card.dataset.id = s.id;
    card.dataset.ref = s.ref;
    const img = document.createElement("img");
    img.alt = s.name;
    authFetch(`/api/gallery/${s.id}.jpg`).then(async (r) => { if (r.ok) img.src = URL.createObjectURL(await r.blob()); });
    const name = document.createElement("div");
    name.className = "name";
    const tick = document.createElement("input");
    tick.type = "checkbox";
    tick.className = "pick";
    tick.title = "compare in try-on";
    const label = document.createElement("span");
    label.textContent = s.name + (s.source === "yours" ? " (yours)" : "");
    name.append(label, tick);
    const use = document.createElement("div");
    use.className = "use";
    for (const [region, as, text] of [["person", "style", "person"], ["background", "style", "background"], ["background", "image", "bg picture"]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.dataset.region = region;
      b.dataset.as = as;
      b.addEventListener("click", async () => {
        const res = await api("/api/apply", {id: s.id, region, as});
        banner(res.ok ? "" : res.data.error);
        if (res.ok) lastValues = res.data.values;
      });
      use.appendChild(b);
    }
    card.append(img, name, use);
    grid.appendChild(card);
  }
}

async function tryOn() {
  const ids = [...document.querySelectorAll(".style .pick:checked")].map((t) => t.closest(".style").dataset.id);
  const box = $("#tryon");
  box.textContent = ids.length ? "painting…" : "tick a few styles first";
  if (!ids.length) return;
  const r = await api("/api/tryon", {ids});
  box.textContent = "";
  if (!r.ok) { box.textContent = r.data.error; return; }
  for (const t of r.data.tiles) {
    const card = document.querySelector(`.style[data-id="${t.id}"]`);
    const fig = document.createElement("figure");
    fig.className = "style tile";
    const img = document.createElement("img");
    img.src = "data:image/jpeg;base64," + t.jpeg;
    const cap = document.createElement("figcaption");
    cap.textContent = card ? card.querySelector(".name span").textContent : t.id;
    fig.append(img, cap);
    box.appendChild(fig);
  }
}

async function upload(file) {
  const r = await authFetch("/api/upload?filename=" + encodeURIComponent(file.name), {method: "POST", body: file});
  const data = await r.json().catch(() => ({}));
  banner(r.ok ? "" : (data.error || "upload refused"));
  if (r.ok) await loadGallery();
}

// ---------------------------------------------------------------- start
async function main() {
  if (!SECRET) { banner(NO_SECRET); $("#status").textContent = "no secret"; return; }
  const form = await api("/api/form");
  buildForm(form.data.sections || []);
  await loadGallery();
  $("#side-by-side").addEventListener("change", sendWish);
  document.addEventListener("visibilitychange", sendWish);
  $("#tryon-button").addEventListener("click", tryOn);
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]); });
  $("#file").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0]); });
  connect();
}
main();
