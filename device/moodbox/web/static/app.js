// moodbox's page: the service's state pushed as Server-Sent Events, the buttons' commands, the camera's
// aim and the music plane drawn as SVG here. Our own code; no library, nothing fetched from elsewhere.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let current = {};

function svg(name, attributes, parent) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (parent) parent.appendChild(element);
  return element;
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function show(state) {
  current = state;
  $("mood").textContent = state.privacy ? "camera off" : state.mood || "watching";
  $("confidence").textContent = state.confidence != null ? `${Math.round(state.confidence * 100)} %` : "";
  $("since").textContent = state.mood_since ? `since ${clock(state.mood_since)}` : "";
  $("song").textContent = state.song || "–";
  $("playlist").textContent = state.playlist || "–";
  $("why").textContent = state.why ? `(${state.why})` : "";
  $("health").textContent = `${state.mpd || ""} · ${state.fps || 0} fps · ${state.cpu || 0} % CPU`;
  pressed("lock", state.locked);
  pressed("privacy", state.privacy);
  pressed("policy", state.policy === "uplift");
  pressed("pause", state.paused);
  $("pause").textContent = state.paused ? "Resume" : "Pause";
  aim(state.camera || {});
}

function pressed(id, on) {
  $(id).setAttribute("aria-pressed", on ? "true" : "false");
}

function aim(camera) {
  const frame = $("frame");
  frame.replaceChildren();
  const view = camera.view || {};
  if (!view.frame) {
    $("aimtext").textContent = camera.state || "no frame yet";
    return;
  }
  const [width, height] = view.frame;
  frame.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg("rect", { x: 1, y: 1, width: width - 2, height: height - 2, fill: "none", stroke: "#3a4048", "stroke-width": 2 }, frame);
  const smallest = view.min_face * height;  // the smallest face the detector looks for, as a dashed square
  svg("rect", {
    x: (width - smallest) / 2, y: (height - smallest) / 2, width: smallest, height: smallest,
    fill: "none", stroke: "#9aa0a6", "stroke-dasharray": "6 6", "stroke-width": 2,
  }, frame);
  let text;
  if (view.box) {
    const [x, y, w, h] = view.box;
    svg("rect", { x, y, width: w, height: h, fill: "none", stroke: view.big_enough ? "#7bd389" : "#ef6b6b", "stroke-width": 4 }, frame);
    text = `face ${Math.round(view.face_share * 100)} % of the frame's height (at least ${Math.round(view.min_face * 100)} %)`;
  } else {
    text = "no face in view";
  }
  if (camera.light != null) text += ` · light ${camera.light} of 255${camera.light < 40 ? " (dim: more light helps)" : ""}`;
  $("aimtext").textContent = text;
}

async function command(body) {
  const response = await fetch("/api/command", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  const reply = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
  $("said").textContent = reply.ok ? `${body.cmd}: done` : `${body.cmd}: ${reply.error}`;
}

document.querySelectorAll("button[data-cmd]").forEach((b) => b.addEventListener("click", () => command({ cmd: b.dataset.cmd })));
document.querySelectorAll("button[data-toggle]").forEach((b) =>
  b.addEventListener("click", () => command({ cmd: b.dataset.toggle, on: !current[b.dataset.toggle] })));
$("policy").addEventListener("click", () => command({ cmd: "policy", value: current.policy === "uplift" ? "match" : "uplift" }));
$("pause").addEventListener("click", () => command({ cmd: current.paused ? "resume" : "pause" }));

function listen() {
  const events = new EventSource("/api/events");
  events.onmessage = (message) => {
    $("link").textContent = "live";
    $("link").className = "pill live";
    show(JSON.parse(message.data));
  };
  events.addEventListener("down", () => {
    $("link").textContent = "moodbox is not running";
    $("link").className = "pill down";
  });
  events.onerror = () => {
    $("link").textContent = "reconnecting…";
    $("link").className = "pill";
  };
}

async function music() {
  const data = await (await fetch("/api/library")).json();
  const plane = $("plane");
  plane.replaceChildren();
  svg("line", { x1: -1, y1: 0, x2: 1, y2: 0, class: "axis" }, plane);
  svg("line", { x1: 0, y1: -1, x2: 0, y2: 1, class: "axis" }, plane);
  const labels = [["happy ▸", 0.75, 0.06], ["◂ sad", -1.05, 0.06], ["energetic", 0.02, -1.02], ["calm", 0.02, 1.08]];
  for (const [text, x, y] of labels) svg("text", { x, y }, plane).textContent = text;
  for (const track of data.tracks) {
    const dot = svg("circle", { cx: track.valence, cy: -track.arousal, r: 0.018, class: "track" }, plane);
    svg("title", {}, dot).textContent = track.file;
    dot.addEventListener("click", () => why(track.file, dot));
  }
  const moved = [];
  for (const [mood, where] of Object.entries(data.moods)) {
    let [v, a] = where.point;
    if (where.learned) {  // the listener's skips moved it: a faint mark where it was set, a line to where it is
      moved.push(mood);
      svg("circle", { cx: v, cy: -a, r: 0.015, class: "configured" }, plane);
      svg("line", { x1: v, y1: -a, x2: where.learned[0], y2: -where.learned[1], class: "moved" }, plane);
      [v, a] = where.learned;
    }
    const ring = svg("circle", { cx: v, cy: -a, r: 0.05, class: where.learned ? "moodpoint learned" : "moodpoint" }, plane);
    svg("title", {}, ring).textContent = where.learned ? `${mood}: moved here by your skips` : mood;
    svg("text", { x: v + 0.06, y: -a + 0.02 }, plane).textContent = mood;
  }
  const yours = moved.length ? ` Moved by your skips: ${moved.join(", ")}.` : "";
  $("musictext").textContent = data.error || `${data.tracks.length} tracks; each mood's playlist takes the tracks nearest its ring.${yours} Pick a dot.`;
}

async function why(file, dot) {
  document.querySelectorAll("#plane .picked").forEach((d) => d.classList.remove("picked"));
  dot.classList.add("picked");
  const response = await fetch(`/api/track?file=${encodeURIComponent(file)}`);
  if (!response.ok) return;
  const t = await response.json();
  const m = t.measured;
  const tags = t.tags.map(([name, p]) => `${name} ${Math.round(p * 100)} %`).join(", ");
  $("track").textContent = `${t.file}: valence ${t.valence}, arousal ${t.arousal}. Tempo ${Math.round(m.tempo_bpm || 0)} bpm, `
    + `loudness ${m.loudness_lufs} LUFS, mode ${m.mode} (major +, minor −). Heard as: ${tags}.`;
}

const COLOURS = {
  happy: "#f6b73c", sad: "#4a7bd8", angry: "#e0554d", fear: "#9b6bd6", disgust: "#5aa05a",
  surprise: "#f08c3c", neutral: "#c9ccd1", away: "#3a4048",
};

async function days(count) {
  document.querySelectorAll("button[data-days]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.days === String(count))));
  const data = await (await fetch(`/api/history?days=${count}`)).json();
  const line = $("timeline");
  line.replaceChildren();
  const rows = data.days || count;
  const height = 18 * rows + 18;
  line.setAttribute("viewBox", `0 0 1000 ${height}`);
  for (let hour = 0; hour <= 24; hour += 6) {
    svg("text", { x: hour * 40 + 20, y: height - 3, "text-anchor": hour === 0 ? "start" : hour === 24 ? "end" : "middle" }, line).textContent = `${hour}:00`;
  }
  for (const s of data.segments || []) {
    const day = Math.floor((s.start - data.since) / 86400);
    const from = (s.start - data.since) % 86400, to = Math.min(from + (s.end - s.start), 86400);
    const bar = svg("rect", { x: 20 + from / 90, y: 18 * day + 2, width: Math.max((to - from) / 90, 1), height: 14,
      fill: COLOURS[s.mood] || "#888" }, line);
    svg("title", {}, bar).textContent = `${s.mood} ${clock(s.start)}–${clock(s.end)}`;
  }
  const total = Object.values(data.shares || {}).reduce((a, b) => a + b, 0);
  const shares = $("shares");
  shares.replaceChildren();
  if (data.error) shares.textContent = data.error;
  else if (!total) shares.textContent = "no moods recorded yet";
  for (const [mood, seconds] of Object.entries(data.shares || {}).sort((a, b) => b[1] - a[1])) {
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = COLOURS[mood] || "#888";
    shares.append(swatch, `${mood} ${Math.round((100 * seconds) / total)} %`);
  }
  const songs = data.songs || {};
  $("songs").textContent = `${songs.played || 0} songs played to the end, ${songs.skipped || 0} skipped`;
}

function duration(seconds) {
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

async function scan() {
  const p = await (await fetch("/api/scan")).json();
  let text;
  if (p.state === "scanning") {
    text = `Scanning: ${p.done} of ${p.total} tracks` + (p.eta_s != null ? `, about ${duration(p.eta_s)} left` : "");
  } else if (p.state === "done") {
    text = `Last scan ${new Date(p.finished * 1000).toLocaleString()}: ${p.tracks} tracks placed`;
  } else if (p.state === "stopped") {
    text = `The last scan stopped at ${p.done} of ${p.total}; the next one goes on from there`;
  } else {
    text = "Not scanned yet";
  }
  $("scan").textContent = text;
  setTimeout(scan, p.state === "scanning" ? 3000 : 30000);
}

$("scannow").addEventListener("click", async () => {
  const response = await fetch("/api/scan", { method: "POST", headers: { "X-CSRF-Token": csrf } });
  const reply = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
  $("scan").textContent = reply.ok ? "Scan asked for; it starts in a moment" : reply.error;
});

document.querySelectorAll("button[data-days]").forEach((b) => b.addEventListener("click", () => days(Number(b.dataset.days))));

fetch("/api/state").then((r) => r.json()).then((reply) => { if (reply.running) show(reply.state); });
listen();
music();
days(1);
scan();
