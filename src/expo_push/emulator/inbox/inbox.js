// The emulator's inbox page: the latest notifications as phones would show them, every request under Traffic,
// kept live by server-sent events. Plain JavaScript, no build step, nothing loaded from elsewhere. Its data comes
// from the emulator's guarded control routes; a control token given as ?token= in the URL is passed on to them.
// Each update holds only what is new (at most the newest 200): the page draws those and drops its oldest cards,
// so a burst costs it one small redraw per update, never a redraw of everything kept.
"use strict";

(function () {
  const MAX_SHOWN = 200;
  const MAX_TOKENS = 50;
  const PAYLOAD_LIMIT = 4096; // the service's limit, as the emulator judges it (its receipts say MessageTooBig)
  const controlToken = new URLSearchParams(location.search).get("token");
  const $ = (id) => document.getElementById(id);

  function route(path, params) {
    const query = new URLSearchParams(params || {});
    if (controlToken) query.set("token", controlToken);
    const text = query.toString();
    return text ? `${path}?${text}` : path;
  }

  function control(method, path, params) {
    const headers = controlToken ? { "X-Emulator-Token": controlToken } : {};
    return fetch(route(path, params), { method, headers, credentials: "same-origin" });
  }

  const shown = new Map(); // seq -> {delivery, node}, newest last
  const projects = new Set();
  let now = 0;
  let last = null; // the latest update
  let searching = false;

  // -- receipts and verdicts ---------------------------------------------------------------------------

  function receiptStatus(d) {
    if (d.receiptLost) return { kind: "never", label: "receipt: never" };
    if (now < d.receiptAt) return { kind: "pending", label: "receipt: not yet" };
    if (now >= d.expiresAt) return { kind: "expired", label: "receipt: expired" };
    if (d.receiptError) return { kind: "error", label: `receipt: ${d.receiptError}` };
    return { kind: "ok", label: "receipt: ok" };
  }

  function verdict(d, status) {
    if (status.kind === "error") return `would not arrive: ${d.receiptError}`;
    if (status.kind === "never") return "arrival unknown: its receipt never comes";
    return null;
  }

  function ago(seconds) {
    if (seconds < 5) return "now";
    if (seconds < 60) return `${Math.floor(seconds)}s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
    return `${Math.floor(seconds / 3600)}h ago`;
  }

  function clock(seconds) {
    return `t=${Number(seconds).toFixed(1)} s`;
  }

  // -- drawing one notification --------------------------------------------------------------------------

  function text(node, selector, value) {
    for (const el of node.querySelectorAll(selector)) {
      el.textContent = value == null ? "" : String(value);
      el.hidden = value == null || value === "";
    }
  }

  function fact(list, name, value) {
    if (value === undefined || value === "") return;
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = typeof value === "string" ? value : JSON.stringify(value);
    dd.dataset.fact = name;
    list.append(dt, dd);
  }

  function soundName(sound) {
    if (sound == null) return undefined;
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
    const dataOnly = !m.title && !m.body && !m.subtitle;
    for (const card of node.querySelectorAll(".ios-card, .android-card")) card.hidden = dataOnly;
    for (const note of node.querySelectorAll(".silent")) note.hidden = !dataOnly;
    node.classList.toggle("data-only", dataOnly);
    const badge = node.querySelector(".badge");
    if (typeof m.badge === "number") {
      badge.textContent = String(m.badge);
      badge.hidden = false;
    }
    text(node, ".channel-name", m.channelId ? `channel ${m.channelId}` : null);
    const image = m.richContent && typeof m.richContent.image === "string" ? m.richContent.image : null;
    for (const img of node.querySelectorAll(".thumb, .picture")) {
      if (!image) continue;
      img.hidden = false;
      img.addEventListener("error", () => {
        img.hidden = true;
        text(img.parentElement, ".image-broken", `image did not load: ${image}`);
      });
      img.src = image;
    }
    const token = node.querySelector(".token");
    token.textContent = d.token;
    token.href = `#/?q=${encodeURIComponent(`token:${d.token}`)}`;
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
    if (m.data === undefined) data.hidden = true;
    else data.querySelector("pre").textContent = JSON.stringify(m.data, null, 2);
    const tags = node.querySelector(".tags");
    tags.hidden = !(d.tags || []).length;
    for (const tag of d.tags || []) {
      const chip = document.createElement("li");
      const link = document.createElement("a");
      link.textContent = tag;
      link.href = `#/?q=${encodeURIComponent(`tag:${tag}`)}`;
      chip.append(link);
      tags.append(chip);
    }
    node.querySelector(".open").href = `#/n/${d.seq}`;
    const raw = node.querySelector(".raw");
    raw.href = `#/traffic/${d.request}`;
    raw.textContent = `request #${d.request}`;
    node.querySelector(".delete").addEventListener("click", async () => {
      const response = await control("DELETE", `/--/emulator/notifications/${d.seq}`);
      if (response.ok) remove(d.seq);
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
      const says = verdict(delivery, status);
      text(node, ".verdict", says);
      node.classList.toggle("undelivered", status.kind === "error");
    }
    const when = ago(Math.max(0, now - delivery.acceptedAt));
    for (const el of node.querySelectorAll(".when")) el.textContent = when;
  }

  function remove(seq) {
    const entry = shown.get(seq);
    if (!entry) return;
    entry.node.remove();
    shown.delete(seq);
    showCount();
  }

  // -- the list: live, or the result of a search --------------------------------------------------------

  function query() {
    const parts = [$("search").value.trim()];
    const token = $("filter-token").value.trim();
    if (token) parts.push(`token:${token}`);
    if ($("filter-project").value) parts.push(`project:${$("filter-project").value}`);
    if ($("filter-status").value) parts.push(`status:${$("filter-status").value}`);
    return parts.filter(Boolean).join(" ");
  }

  function clearList() {
    for (const entry of shown.values()) entry.node.remove();
    shown.clear();
  }

  function add(deliveries) {
    const list = $("notifications");
    for (const delivery of deliveries) {
      if (shown.has(delivery.seq)) continue;
      const entry = { delivery, node: draw(delivery) };
      shown.set(delivery.seq, entry);
      refresh(entry);
      list.prepend(entry.node);
      if (!projects.has(delivery.project)) {
        projects.add(delivery.project);
        const option = document.createElement("option");
        option.value = option.textContent = delivery.project;
        $("filter-project").append(option);
      }
    }
    for (const [seq, entry] of shown) {
      if (shown.size <= MAX_SHOWN) break;
      entry.node.remove();
      shown.delete(seq);
    }
    const recent = [...new Set([...shown.values()].reverse().map((e) => e.delivery.token))].slice(0, MAX_TOKENS);
    const datalist = $("recent-tokens");
    if (datalist.children.length !== recent.length || [...datalist.children].some((o, i) => o.value !== recent[i])) {
      datalist.replaceChildren(...recent.map((t) => Object.assign(document.createElement("option"), { value: t })));
    }
  }

  let matched = 0;
  let searchRun = 0;

  async function search() {
    const q = query();
    searching = Boolean(q);
    const run = ++searchRun;
    if (!searching) {
      clearList();
      const response = await control("GET", "/--/emulator/feed", { limit: MAX_SHOWN });
      if (run === searchRun) {
        clearList();
        add((await response.json()).data);
        showCount();
      }
      return;
    }
    const response = await control("GET", "/--/emulator/feed", { q, limit: MAX_SHOWN });
    const found = await response.json();
    if (run !== searchRun) return;
    clearList();
    matched = found.matched;
    add(found.data);
    showCount();
  }

  let searchTimer = null;
  function searchSoon() {
    if (searchTimer) return;
    searchTimer = setTimeout(() => {
      searchTimer = null;
      search();
    }, 150);
  }

  function showCount() {
    const kept = last ? last.kept : 0;
    const accepted = last ? last.accepted : 0;
    let says = "";
    if (searching) says = `${Math.min(matched, shown.size)} shown of ${matched} matching (${kept} kept)`;
    else if (kept > shown.size) says = `latest ${shown.size} of ${kept} kept`;
    else if (kept) says = `${shown.size} of ${kept} kept`;
    if (accepted > kept && !searching) says += ` · ${accepted - kept} older ones forgotten (history ${last.settings.history})`;
    $("count").textContent = says;
    $("empty").hidden = kept > 0 || accepted > 0;
  }

  // -- one notification in full (#/n/SEQ) ---------------------------------------------------------------

  const SHOWN_ON_PHONES = new Set(["to", "title", "subtitle", "body", "data"]);

  async function showDetail(seq) {
    const box = $("detail");
    const response = await control("GET", `/--/emulator/notifications/${seq}`);
    const editor = $("tag-editor");
    editor.hidden = !response.ok;  // tags saved from here would land on the notification viewed before
    if (!response.ok) {
      box.textContent = `Notification ${seq} is no longer kept (deleted, cleared, or older than the history).`;
      delete editor.dataset.seq;
      return;
    }
    const d = await response.json();
    const node = draw(d);
    node.dataset.testid = "detail";
    refresh({ delivery: d, node });
    const facts = node.querySelector(".facts");
    facts.replaceChildren();
    const m = d.message || {};
    for (const key of Object.keys(m).sort()) if (!SHOWN_ON_PHONES.has(key)) fact(facts, key, m[key]);
    fact(facts, "payload", `${d.payloadBytes} of ${PAYLOAD_LIMIT} bytes${d.payloadBytes > PAYLOAD_LIMIT ? " (over the limit)" : ""}`);
    fact(facts, "ticket answered", d.ticket);
    fact(facts, "receipt", d.receiptLost ? "never comes" : d.receipt);
    fact(facts, "receipt due", clock(d.receiptAt));
    fact(facts, "receipt fetched", d.receiptFetches
      ? `yes, first at ${clock(d.receiptFetchedAt)} (${d.receiptFetches}×)`
      : "no: the backend never asked for it (Expo's advice: check receipts)");
    fact(facts, "access token", d.accessToken ? "sent" : "not sent");
    fact(facts, "accepted", clock(d.acceptedAt));
    box.replaceChildren(node);
    $("tags-input").value = (d.tags || []).join(" ");
    $("tag-editor").dataset.seq = d.seq;
  }

  async function saveTags(event) {
    event.preventDefault();
    const tags = $("tags-input").value.split(/[\s,]+/).filter(Boolean);
    const headers = { "Content-Type": "application/json" };
    if (controlToken) headers["X-Emulator-Token"] = controlToken;
    const response = await fetch(route(`/--/emulator/notifications/${$("tag-editor").dataset.seq}/tags`),
      { method: "PUT", headers, body: JSON.stringify({ tags }), credentials: "same-origin" });
    const answer = await response.json();
    $("action-result").textContent = response.ok ? "tags saved" : answer.errors[0].message;
    if (response.ok) showDetail($("tag-editor").dataset.seq);
  }

  // -- traffic (#/traffic, #/traffic/N) -----------------------------------------------------------------

  function outcome(e) {
    if (e.errorCode) return e.errorCode;
    const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
    if (e.kind === "receipts") return plural(e.receipts ?? 0, "receipt");
    const errors = Object.entries(e.ticketErrors || {}).map(([code, n]) => `${code} ×${n}`);
    return `${plural(e.tickets ?? 0, "ticket")}${errors.length ? `, errors: ${errors.join(", ")}` : ""}`;
  }

  function addExchanges(exchanges) {
    const body = $("traffic");
    for (const e of exchanges) {
      const row = document.createElement("tr");
      row.dataset.testid = "exchange";
      row.dataset.status = e.status == null ? "none" : String(e.status);
      row.classList.toggle("refused", e.status == null || e.status >= 400);
      const cells = [`#${e.id}`, e.kind, e.status == null ? "no answer" : String(e.status), outcome(e),
        e.fault || "", e.accessToken ? "sent" : ""];
      for (const value of cells) {
        const cell = document.createElement("td");
        cell.textContent = value;
        row.append(cell);
      }
      row.addEventListener("click", () => { location.hash = `#/traffic/${e.id}`; });
      row.dataset.id = String(e.id);
      // newest first by number: a request answered late comes after later ones, and goes below them
      const below = [...body.children].find((other) => Number(other.dataset.id) < e.id);
      body.insertBefore(row, below || null);
    }
    while (body.children.length > MAX_SHOWN) body.lastElementChild.remove();
    $("traffic-count").textContent = `latest ${body.children.length} requests (the latest 1000 are kept whole)`;
  }

  async function showExchange(number) {
    const box = $("exchange");
    box.hidden = false;
    const response = await control("GET", `/--/emulator/requests/${number}`);
    const e = await response.json();
    if (!response.ok) {
      box.textContent = e.errors[0].message;
      return;
    }
    const head = document.createElement("h3");
    head.textContent = `#${e.id} ${e.kind} · HTTP/${e.httpVersion} · ${e.bytes} bytes as sent · ` +
      `${e.status == null ? "no answer" : e.status} ${outcome(e)}`;
    const request = document.createElement("pre");
    request.dataset.testid = "request-body";
    request.textContent = `POST ${e.path}\n${JSON.stringify(e.headers, null, 2)}\n\n${JSON.stringify(e.body, null, 2)}`;
    const answer = document.createElement("pre");
    answer.dataset.testid = "answer";
    answer.textContent = typeof e.answer === "string" ? e.answer : JSON.stringify(e.answer, null, 2);
    box.replaceChildren(head, "request", request, "answer", answer);
  }

  // -- the side panels ---------------------------------------------------------------------------------

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
      `keeps the latest ${s.history}`,
    ];
    $("settings").textContent = parts.filter(Boolean).join(" · ");
  }

  function notifyArrivals(deliveries) {
    if (!$("notify").checked || !deliveries.length || !("Notification" in window)) return;
    if (Notification.permission !== "granted") return;
    const newest = deliveries[deliveries.length - 1].message || {};
    const title = deliveries.length > 1 ? `${deliveries.length} new notifications` : newest.title || "New notification";
    new Notification(title, { body: newest.body || "", tag: "expo-push-inbox" });
  }

  // -- live updates -------------------------------------------------------------------------------------

  function onUpdate(update) {
    now = update.now;
    last = update;
    if (update.reset) {
      clearList();
      $("traffic").replaceChildren();
      projects.clear();
      const select = $("filter-project");
      const keep = select.value;
      while (select.options.length > 1) select.remove(1);
      select.value = keep;
    }
    if (searching) {
      if (update.deliveries.length || update.reset) searchSoon();
    } else {
      add(update.deliveries);
    }
    addExchanges(update.exchanges);
    for (const entry of shown.values()) refresh(entry);
    drawPanels(update);
    showCount();
    notifyArrivals(update.deliveries);
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
      const response = await control(method, path);
      result.textContent = response.ok ? done : `refused: ${response.status}`;
    } catch (error) {
      result.textContent = `failed: ${error}`;
    }
  }

  // -- views by URL: #/ (with ?q=), #/n/SEQ, #/traffic, #/traffic/N -------------------------------------

  function route_() {
    const hash = location.hash.replace(/^#/, "") || "/";
    const [path, params] = hash.split("?");
    const parts = path.split("/").filter(Boolean);
    const view = parts[0] === "n" ? "detail" : parts[0] === "traffic" ? "traffic" : "notifications";
    $("notifications-view").hidden = view !== "notifications";
    $("detail-view").hidden = view !== "detail";
    $("traffic-view").hidden = view !== "traffic";
    for (const tab of document.querySelectorAll(".tabs a")) {
      tab.classList.toggle("current", tab.dataset.view === (view === "detail" ? "notifications" : view));
    }
    if (view === "detail") showDetail(parts[1]);
    if (view === "traffic") {
      if (parts[1]) showExchange(parts[1]);
      else $("exchange").hidden = true;
    }
    if (view === "notifications" && params !== undefined) {
      const q = new URLSearchParams(params).get("q") || "";
      if ($("search").value !== q) {
        $("search").value = q;
        search();
      }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("empty-example").textContent =
      `EXPO_BASE_URL=${location.origin}\n\n` +
      `curl -H "Content-Type: application/json" -X POST ${location.origin}/--/api/v2/push/send \\\n` +
      `  -d '{"to": "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]", "title": "Hello", "body": "world"}'`;
    $("filters").addEventListener("input", searchSoon);
    $("filters").addEventListener("submit", (event) => event.preventDefault());
    $("reset").addEventListener("click", () => { $("confirm-reset").hidden = false; });
    $("reset-no").addEventListener("click", () => { $("confirm-reset").hidden = true; });
    $("reset-yes").addEventListener("click", () => {
      $("confirm-reset").hidden = true;
      act("POST", "/--/emulator/reset", "reset: everything forgotten");
    });
    $("tag-editor").addEventListener("submit", saveTags);
    $("clear-inbox").addEventListener("click", () => act("POST", "/--/emulator/clear", "inbox cleared"));
    $("clear-faults").addEventListener("click", () => act("DELETE", "/--/emulator/faults", "faults cleared"));
    $("notify").addEventListener("change", async () => {
      if ($("notify").checked && "Notification" in window && Notification.permission !== "granted") {
        $("notify").checked = (await Notification.requestPermission()) === "granted";
      }
    });
    window.addEventListener("hashchange", route_);
    showCount();
    route_();
    connect();
  });
})();
