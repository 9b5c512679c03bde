// The emulator's inbox page: every accepted notification, newest first, kept live by server-sent events.
// Plain JavaScript, no build step, nothing loaded from elsewhere. Its data comes from the emulator's
// guarded control routes; a control token given as ?token= in the page's URL is passed on to them.
"use strict";

(function () {
  const MAX_SHOWN = 2000;
  const controlToken = new URLSearchParams(location.search).get("token");
  const $ = (id) => document.getElementById(id);

  function route(path) {
    return controlToken ? `${path}?token=${encodeURIComponent(controlToken)}` : path;
  }

  function control(method, path) {
    const headers = controlToken ? { "X-Emulator-Token": controlToken } : {};
    return fetch(path, { method, headers, credentials: "same-origin" });
  }

  const items = new Map(); // seq -> {delivery, node}
  const tokens = new Set();
  const projects = new Set();
  let now = 0;

  // -- receipts ---------------------------------------------------------------------------------------

  function receiptStatus(d) {
    if (d.receiptLost) return { kind: "never", label: "receipt: never" };
    if (now < d.receiptAt) return { kind: "pending", label: "receipt: not yet" };
    if (now >= d.expiresAt) return { kind: "expired", label: "receipt: expired" };
    if (d.receiptError) return { kind: "error", label: `receipt: ${d.receiptError}` };
    return { kind: "ok", label: "receipt: ok" };
  }

  function ago(seconds) {
    if (seconds < 5) return "now";
    if (seconds < 60) return `${Math.floor(seconds)}s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
    return `${Math.floor(seconds / 3600)}h ago`;
  }

  // -- drawing one notification -------------------------------------------------------------------------

  function text(node, selector, value) {
    for (const el of node.querySelectorAll(selector)) {
      el.textContent = value == null ? "" : String(value);
      el.hidden = value == null || value === "";
    }
  }

  function fact(list, name, value) {
    if (value == null || value === "") return;
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = typeof value === "string" ? value : JSON.stringify(value);
    list.append(dt, dd);
  }

  function soundName(sound) {
    if (sound == null) return null;
    if (typeof sound === "string") return sound;
    return `${sound.name || "default"}${sound.critical ? " (critical)" : ""}`;
  }

  function draw(d) {
    const node = $("notification-template").content.firstElementChild.cloneNode(true);
    const m = d.message || {};
    node.dataset.seq = d.seq;
    node.dataset.token = d.token;
    node.dataset.project = d.project;
    const appName = String(d.project || "").replace(/^@[^/]*\//, "") || "app";
    text(node, ".app-name", appName);
    text(node, ".title", m.title);
    text(node, ".subtitle", m.subtitle);
    text(node, ".body", m.body);
    if (!m.title && !m.body) {
      text(node, ".ios .body", "(no title or body: a data-only notification)");
    }
    const badge = node.querySelector(".badge");
    if (typeof m.badge === "number") {
      badge.textContent = String(m.badge);
      badge.hidden = false;
    }
    text(node, ".channel-name", m.channelId ? `channel ${m.channelId}` : null);
    const image = m.richContent && typeof m.richContent.image === "string" ? m.richContent.image : null;
    for (const img of node.querySelectorAll(".thumb, .picture")) {
      if (image) {
        img.src = image;
        img.hidden = false;
        img.addEventListener("error", () => { img.hidden = true; });
      }
    }
    text(node, ".token", d.token);
    const facts = node.querySelector(".facts");
    fact(facts, "project", d.project);
    fact(facts, "ticket", d.ticketId);
    fact(facts, "sound", soundName(m.sound));
    fact(facts, "badge", m.badge);
    fact(facts, "channel", m.channelId);
    fact(facts, "category", m.categoryId);
    fact(facts, "priority", m.priority);
    fact(facts, "ttl", m.ttl);
    fact(facts, "interruption", m.interruptionLevel);
    const data = node.querySelector(".data");
    if (m.data === undefined) {
      data.hidden = true;
    } else {
      data.querySelector("pre").textContent = JSON.stringify(m.data, null, 2);
    }
    const raw = node.querySelector(".raw");
    raw.querySelector("summary").textContent = `raw request #${d.request}`;
    raw.addEventListener("toggle", async () => {
      if (!raw.open || raw.dataset.loaded) return;
      raw.dataset.loaded = "1";
      const pre = raw.querySelector("pre");
      try {
        const response = await control("GET", route(`/--/emulator/requests/${d.request}`));
        const request = await response.json();
        pre.textContent = response.ok
          ? `HTTP/${request.httpVersion}, ${request.bytes} bytes as sent\n${JSON.stringify(request.headers, null, 2)}\n\n${JSON.stringify(request.body, null, 2)}`
          : "no longer kept (only the latest 1000 requests are)";
      } catch (error) {
        pre.textContent = `could not load it: ${error}`;
      }
    });
    return node;
  }

  function refresh(entry) {
    const { delivery, node } = entry;
    const status = receiptStatus(delivery);
    const pill = node.querySelector(".receipt");
    if (pill.textContent !== status.label) {
      pill.textContent = status.label;
      pill.dataset.kind = status.kind;
      node.dataset.status = status.kind;
    }
    const when = ago(Math.max(0, now - delivery.acceptedAt));
    for (const el of node.querySelectorAll(".when")) el.textContent = when;
  }

  // -- filters ----------------------------------------------------------------------------------------

  function addOption(select, value) {
    const option = document.createElement("option");
    option.value = option.textContent = value;
    select.append(option);
  }

  function matches(entry) {
    const d = entry.delivery;
    const m = d.message || {};
    const query = $("search").value.trim().toLowerCase();
    if (query && ![m.title, m.subtitle, m.body].some((v) => typeof v === "string" && v.toLowerCase().includes(query))) {
      return false;
    }
    if ($("filter-token").value && d.token !== $("filter-token").value) return false;
    if ($("filter-project").value && d.project !== $("filter-project").value) return false;
    if ($("filter-status").value && entry.node.dataset.status !== $("filter-status").value) return false;
    return true;
  }

  function applyFilters() {
    let shown = 0;
    for (const entry of items.values()) {
      const visible = matches(entry);
      entry.node.hidden = !visible;
      shown += visible ? 1 : 0;
    }
    $("count").textContent = items.size ? `${shown} of ${items.size} shown` : "";
    $("empty").hidden = items.size > 0;
  }

  // -- the side panels --------------------------------------------------------------------------------

  const STATS = [
    ["notifications", "notifications"],
    ["requests", "requests"],
    ["ticket_errors", "error tickets"],
    ["duplicates", "duplicates"],
    ["rate_limited", "429s"],
    ["errors", "other errors"],
    ["dropped", "dropped"],
    ["max_in_flight", "most in flight"],
  ];

  function drawPanels(update) {
    const stats = $("stats");
    stats.replaceChildren();
    for (const [key, label] of STATS) {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = String(update.stats[key] ?? 0);
      dd.dataset.stat = key;
      const group = document.createElement("div");
      group.append(dt, dd);
      stats.append(group);
    }
    const faults = $("faults");
    faults.replaceChildren();
    for (const fault of update.faults) {
      const li = document.createElement("li");
      const times = fault.count == null ? "until cleared" : `${fault.count - fault.applied} more`;
      const extra = fault.kind === "server_error" ? ` ${fault.status}` : "";
      li.textContent = `${fault.kind}${extra} · ${fault.target} · ${times}`;
      faults.append(li);
    }
    if (!update.faults.length) {
      const li = document.createElement("li");
      li.className = "none";
      li.textContent = "none";
      faults.append(li);
    }
    const s = update.settings;
    const parts = [
      s.rateLimit == null ? "no rate limit" : `${s.rateLimit}/s per project`,
      s.latency ? `${Math.round(s.latency * 1000)} ms latency` : null,
      s.receiptDelay ? `receipts after ${s.receiptDelay} s` : null,
      s.registeredOnly ? "registered tokens only" : null,
      s.accessTokens ? "access token required" : null,
    ];
    $("settings").textContent = parts.filter(Boolean).join(" · ");
  }

  // -- live updates -----------------------------------------------------------------------------------

  function onUpdate(update) {
    now = update.now;
    if (update.reset) {
      for (const entry of items.values()) entry.node.remove();
      items.clear();
      tokens.clear();
      projects.clear();
      for (const id of ["filter-token", "filter-project"]) {
        const select = $(id);
        const keep = select.value;
        while (select.options.length > 1) select.remove(1);
        select.value = keep;
      }
    }
    const list = $("notifications");
    for (const delivery of update.deliveries) {
      if (items.has(delivery.seq)) continue;
      const entry = { delivery, node: draw(delivery) };
      items.set(delivery.seq, entry);
      list.prepend(entry.node);
      if (!tokens.has(delivery.token)) {
        tokens.add(delivery.token);
        addOption($("filter-token"), delivery.token);
      }
      if (!projects.has(delivery.project)) {
        projects.add(delivery.project);
        addOption($("filter-project"), delivery.project);
      }
    }
    while (items.size > MAX_SHOWN) {
      const [seq, entry] = items.entries().next().value;
      entry.node.remove();
      items.delete(seq);
    }
    for (const entry of items.values()) refresh(entry);
    drawPanels(update);
    applyFilters();
  }

  function connect() {
    const live = $("live");
    const events = new EventSource(route("/--/emulator/events"));
    events.addEventListener("open", () => {
      live.dataset.state = "live";
      $("live-text").textContent = "live";
    });
    events.addEventListener("update", (event) => onUpdate(JSON.parse(event.data)));
    events.addEventListener("error", () => {
      live.dataset.state = "reconnecting";
      $("live-text").textContent = "reconnecting…";
    });
  }

  async function act(method, path, done) {
    const result = $("action-result");
    try {
      const response = await control(method, route(path));
      result.textContent = response.ok ? done : `refused: ${response.status}`;
    } catch (error) {
      result.textContent = `failed: ${error}`;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("empty-example").textContent =
      `EXPO_BASE_URL=${location.origin}\n\n` +
      `curl -H "Content-Type: application/json" -X POST ${location.origin}/--/api/v2/push/send \\\n` +
      `  -d '{"to": "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]", "title": "Hello", "body": "world"}'`;
    $("filters").addEventListener("input", applyFilters);
    $("filters").addEventListener("submit", (event) => event.preventDefault());
    $("reset").addEventListener("click", () => act("POST", "/--/emulator/reset", "reset: everything forgotten"));
    $("clear-faults").addEventListener("click", () => act("DELETE", "/--/emulator/faults", "faults cleared"));
    applyFilters();
    connect();
  });
})();
