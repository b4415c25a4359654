"use strict";
(() => {
  const BASE = "/api/admin/blog/auto-generate";
  const TYPICAL = "about 1200 input and 1400 output tokens per post";
  const FINISHED = new Set(["completed", "partial", "failed", "cancelled"]);
  const MAX_LOG_LINES = 2000;
  const $ = (id) => document.getElementById(id);
  const form = $("generate-form");
  const runsBox = $("runs");
  const logBox = $("log");
  const watched = new Set(); // runs shown in the live panel: active ones and those started here
  const refilled = new Set(); // runs whose recent log lines were put back after a (re)load
  const logKeys = new Set(); // log lines in the console, so a refill does not repeat live ones
  const titles = new Map(); // post job id -> the title it writes about, read from its log lines
  const POST_JOB = /-(movie|tv)-(\d+)$/;
  const STATE_WORDS = { saved: "written", prioritized: "queued", waiting: "waiting for a worker", delayed: "scheduled", active: "being written" };
  const HOLD_UP_REFRESH_MS = 5000; // while jobs are held, so the expected times stay current

  // --- the form: estimate, continuous interval, start ---------------------------------------
  function estimate() {
    const option = $("model").selectedOptions[0];
    const perPost = Number(option ? option.dataset.perPost : 0);
    const count = Math.max(0, Number($("count").value) || 0);
    const continuous = $("mode").value === "continuous";
    $("interval-field").hidden = !continuous;
    const budget = $("budget").value ? ", stops at a budget of " + bq.usd($("budget").value) : "";
    const unit = continuous ? " per tick (every " + ($("interval").value || "?") + " min)" : "";
    $("estimate").textContent = "Estimated cost: " + bq.usd(perPost * count) + unit +
      " — " + count + " post(s) at " + bq.usd(perPost) + " each (" + TYPICAL + ")" + budget;
  }
  form.addEventListener("input", estimate);
  form.addEventListener("change", estimate);
  estimate();

  const num = (id) => ($(id).value === "" ? null : Number($(id).value));

  function request() {
    const body = {
      model: $("model").value,
      mode: $("mode").value,
      source: $("source").value,
      mediaType: $("media-type").value,
      count: num("count"),
      filters: {
        minRating: num("min-rating"),
        yearFrom: num("year-from"),
        yearTo: num("year-to"),
        includeAdult: $("include-adult").checked,
      },
    };
    if (body.mode === "continuous") body.intervalMinutes = num("interval");
    if ($("budget").value !== "") body.budgetUsd = num("budget");
    return body;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    bq.clearErrors(form);
    const message = $("start-message");
    bq.say(message, "Starting…");
    $("start").disabled = true;
    const result = await bq.api("POST", BASE, request());
    $("start").disabled = false;
    if (!result.ok) {
      if ((result.data?.details || []).some((d) => /minRating|yearFrom|yearTo|includeAdult|budgetUsd/.test(d.field))) {
        $("advanced").open = true; // its fields can show their messages and take focus
      }
      return bq.failed(form, message, result.data, "Not started: fix the fields marked.");
    }
    watched.add(result.data.runId);
    bq.done(message, "Run " + result.data.runId + " started (" + result.data.mode + ").");
    refresh();
  });

  // --- the live panel -----------------------------------------------------------------------
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function runSection(run) {
    let section = runsBox.querySelector('.run[data-run-id="' + run.id + '"]');
    if (section) return section;
    section = el("section", { class: "run", "data-run-id": run.id });
    const head = el("div", { class: "run-head" });
    const title = el("h3");
    title.append(el("a", { class: "run-link", href: "/admin/blog/runs/" + run.id }, "Run " + run.id));
    head.append(title, el("span", { class: "run-meta" }), el("span", { class: "badge run-state" }));
    const stop = el("button", { type: "button", class: "danger small stop-run" }, "Stop");
    stop.addEventListener("click", () => stopRun(run.id, stop));
    head.append(stop);
    const bar = el("div", { class: "run-bar" });
    const track = el("div", { class: "run-track", role: "img" });
    track.append(el("span", { class: "run-done" }), el("span", { class: "run-failed" }));
    bar.append(track, el("span", { class: "run-count" }), el("span", { class: "run-percent muted" }));
    const table = el("table", { class: "run-posts" });
    table.innerHTML = "<thead><tr><th scope='col'>Title</th><th scope='col'>State</th>" +
      "<th scope='col'>Tokens</th><th scope='col'>Cost</th></tr></thead><tbody></tbody>";
    const scroll = el("div", { class: "scroll" });
    scroll.append(table);
    section.append(head, bar, el("p", { class: "current-post muted" }), el("p", { class: "run-waits warn-text" }),
      el("p", { class: "run-message" }), scroll);
    runsBox.prepend(section);
    return section;
  }

  function renderRun(run, holdUps) {
    const section = runSection(run);
    const finished = FINISHED.has(run.state);
    const planned = run.planned || run.requested;
    // Written and failed posts are two segments of one bar, so a run that failed never looks full and green.
    const track = section.querySelector(".run-track");
    Object.assign(track.dataset, { done: run.done, failed: run.failed, planned });
    track.setAttribute("aria-label", "Run " + run.id + ": " + counts(run));
    section.querySelector(".run-done").style.width = (100 * run.done / Math.max(planned, 1)) + "%";
    section.querySelector(".run-failed").style.width = (100 * run.failed / Math.max(planned, 1)) + "%";
    section.querySelector(".run-count").textContent = counts(run);
    section.querySelector(".run-percent").textContent = Math.round(run.progress) + " % finished";
    section.querySelector(".run-meta").textContent = run.mode + " · " + run.model + " · " +
      run.source.replace(/_/g, " ") + " " + run.mediaType + " · " + bq.usd(run.costUsd) +
      (run.budgetUsd != null ? " of " + bq.usd(run.budgetUsd) : "") +
      (run.nextTickAt && !finished ? " · next tick " + bq.time(run.nextTickAt) : "");
    const state = section.querySelector(".run-state");
    state.textContent = run.state;
    state.className = "badge run-state " + run.state;
    section.querySelector(".stop-run").hidden = finished;
    section.querySelector(".run-message").textContent = run.message || "";
    if (finished) section.querySelector(".current-post").textContent = "";
    const idle = !finished && run.done + run.failed < (run.planned || run.requested);
    section.querySelector(".run-waits").textContent = idle && holdUps.length ?
      "Waiting: " + holdUps.map((hold) => hold.message).join("; ") : "";
    const body = section.querySelector("tbody");
    body.replaceChildren(...run.posts.map(postRow));
    if (!refilled.has(run.id)) refill(run, section);
  }

  // After a reload: the run's recent log lines (older than anything live, so they go first) and,
  // while it runs, what its newest post job last said.
  function refill(run, section) {
    refilled.add(run.id);
    const lines = run.lastLogs.map((entry) => logLine(run.id, entry.jobId, entry.message, entry.at)).filter(Boolean);
    logBox.prepend(...lines.map((line) => document.createTextNode(line + "\n")));
    const current = run.lastLogs.filter((entry) => POST_JOB.test(entry.jobId)).pop();
    if (current && !FINISHED.has(run.state) && !section.querySelector(".current-post").textContent) {
      section.querySelector(".current-post").textContent = "Current post: " + postName(current.jobId) + " — " +
        current.message + " (" + clock(current.at) + ")";
    }
  }

  function postName(jobId) {
    const match = POST_JOB.exec(jobId);
    return titles.get(jobId) || (match ? match[1] + " " + match[2] : jobId);
  }

  function counts(run) {
    const planned = run.planned || run.requested;
    return run.done + "/" + planned + " written" + (run.failed ? " · " + run.failed + " failed" : "") +
      (run.released ? " · " + run.released + " back to the pool" : "");
  }

  function postRow(post) {
    const row = el("tr", { "data-job-id": post.jobId });
    const title = el("td", { "data-label": "Title" });
    if (post.slug) {
      title.append(el("a", { class: "run-post-link", href: "/admin/blog/posts/" + encodeURIComponent(post.slug) }, post.title || post.slug));
    } else {
      title.textContent = post.title || post.mediaType + " " + post.tmdbId;
    }
    const state = el("td", { "data-label": "State" }, (STATE_WORDS[post.state] || post.state) + (post.reason ? ": " + post.reason : ""));
    row.append(title, state, el("td", { "data-label": "Tokens" }, String(post.tokensIn + post.tokensOut)),
      el("td", { "data-label": "Cost" }, bq.usd(post.costUsd)));
    return row;
  }

  function renderRecent(runs) {
    const list = $("recent-runs");
    list.replaceChildren(...runs.map((run) => {
      const item = el("li", { "data-run-id": run.id });
      item.append(el("a", { class: "run-link", href: "/admin/blog/runs/" + run.id }, "Run " + run.id), " ",
        el("span", { class: "badge " + run.state }, run.state),
        " " + run.mode + " · " + run.model + " · " + counts(run) + " · " + bq.usd(run.costUsd) +
        " · " + new Date(run.createdAt).toLocaleString() + " ");
      if (run.message) item.append(el("span", { class: "muted recent-message" }, run.message), " ");
      item.append(el("a", { href: "/admin/blog/posts?runId=" + run.id }, "posts"));
      return item;
    }));
    if (!runs.length) list.append(el("li", { class: "muted" }, "No runs yet."));
  }

  const REFRESH_GAP_MS = 500;
  let holdUpTimer = 0;
  let fetching = false;
  let again = false;
  async function refresh() {
    if (fetching) { again = true; return; }
    fetching = true;
    try {
      const result = await bq.api("GET", BASE + "/status");
      if (!result.ok) return;
      for (const run of result.data.runs) {
        if (!FINISHED.has(run.state)) watched.add(run.id);
      }
      // After a reload the newest run stays in view, finished or not, with its outcome and reasons.
      if (!watched.size && result.data.runs.length) watched.add(Math.max(...result.data.runs.map((run) => run.id)));
      const shown = result.data.runs.filter((run) => watched.has(run.id));
      shown.slice().reverse().forEach((run) => renderRun(run, result.data.holdUps));
      clearTimeout(holdUpTimer);
      if (result.data.holdUps.length) holdUpTimer = setTimeout(refresh, HOLD_UP_REFRESH_MS);
      $("no-runs").hidden = shown.length > 0;
      renderRecent(result.data.runs);
    } finally {
      fetching = false;
      if (again) { again = false; setTimeout(refresh, REFRESH_GAP_MS); }  // at most ~2 a second
    }
  }

  async function stopRun(runId, button) {
    button.disabled = true;
    const result = await bq.api("POST", BASE + "/stop", { runId });
    button.disabled = false;
    if (!result.ok) bq.say($("start-message"), result.data?.error || "could not stop", "error");
    refresh();
  }

  // --- the log console: follows new lines unless the reader has scrolled up ------------------
  let follow = true;
  logBox.addEventListener("scroll", () => {
    follow = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 8;
  });
  const clock = (ms) => (ms ? new Date(Number(ms)).toLocaleTimeString() : "--:--:--");

  // The console's text for one line, remembered so it is shown once; null when already shown.
  function logLine(runId, jobId, message, at) {
    const about = /^writing about (.+) with /.exec(message);
    if (about && jobId) titles.set(jobId, about[1]);
    const key = runId + "|" + jobId + "|" + message;
    if (logKeys.has(key)) return null;
    logKeys.add(key);
    return clock(at) + " [run " + runId + "] " + message;
  }

  function appendLog(runId, jobId, message, at) {
    const line = logLine(runId, jobId, message, at);
    if (line === null) return;
    logBox.append(document.createTextNode(line + "\n"));
    while (logBox.childNodes.length > MAX_LOG_LINES) logBox.firstChild.remove();
    if (follow) logBox.scrollTop = logBox.scrollHeight;
  }

  // --- live events: EventSource reconnects by itself (with Last-Event-ID); on an error the
  // status is fetched again so nothing shown stays stale while it does.
  const events = new EventSource(BASE + "/events");
  const parse = (event) => JSON.parse(event.data);
  const sentAt = (event) => Number(String(event.lastEventId).split("-")[0]) || Date.now(); // stream ids start with ms
  events.addEventListener("run-log", (event) => {
    const data = parse(event);
    appendLog(data.runId, data.jobId, data.message, sentAt(event));
  });
  events.addEventListener("run-progress", (event) => {
    const data = parse(event);
    const section = runsBox.querySelector('.run[data-run-id="' + data.runId + '"]');
    if (!section) return refresh();
    if (!POST_JOB.test(data.jobId)) return; // the planning job's progress is the run's, not a post's
    if (data.title) titles.set(data.jobId, data.title);
    const stage = data.stage || "working";
    const chars = data.chars != null ? ": " + data.chars + " characters" : "";
    section.querySelector(".current-post").textContent = "Current post: " + postName(data.jobId) + " — " + stage + chars;
  });
  for (const kind of ["post-saved", "post-failed", "run-finished"]) {
    events.addEventListener(kind, (event) => {
      const data = parse(event);
      if (data.message) appendLog(data.runId, data.jobId, data.message, sentAt(event));
      refresh();
    });
  }
  events.addEventListener("open", () => { document.body.dataset.live = "open"; refresh(); });
  events.addEventListener("error", () => { document.body.dataset.live = "reconnecting"; refresh(); });
  window.addEventListener("beforeunload", () => events.close());
  refresh();
})();
