"use strict";
// The queue page and a job page: actions through the API, each confirmed when it destroys, with a
// notice after it; the queue page refreshes its counts, hold-ups and list every few seconds by
// fetching itself and swapping those parts in (one renderer: the server's template).
(() => {
  const REFRESH_MS = 3000;
  const LIVE_PARTS = ["queue-counts", "throughput", "throughput-day", "hold-ups", "job-total", "jobs"];
  const $ = (id) => document.getElementById(id);
  const message = $("queue-message");
  const count = (state) => Number($("queue-counts")?.querySelector('dd[data-state="' + state + '"]')?.textContent || 0);

  async function act(button) {
    const row = button.closest("[data-job-id]");
    const id = row.dataset.jobId;
    const action = button.dataset.action;
    if (action === "remove" && !window.confirm("Remove job " + id + "? It is deleted with its logs; this cannot be undone.")) return;
    const url = "/api/jobs/" + encodeURIComponent(id) + (action === "remove" ? "" : "/" + action);
    button.disabled = true;
    const result = await bq.api(action === "remove" ? "DELETE" : "POST", url);
    button.disabled = false;
    if (!result.ok) return bq.say(message, result.data?.error || action + " failed", "error");
    if (action === "remove" && $("job-detail")) return window.location.assign("/admin/queue");
    const done = { retry: "queued again", promote: "moved to run now", remove: "removed" }[action];
    bq.say(message, "Job " + id + " " + done + ".", "success");
    refresh();
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest(".job-action");
    if (button) act(button);
  });

  const clean = $("clean-form");
  clean?.addEventListener("submit", async (event) => {
    event.preventDefault();
    bq.clearErrors(clean);
    const notice = $("clean-message");
    const state = $("clean-state").value;
    const minutes = $("clean-grace").value;
    if (minutes === "" || !(Number(minutes) >= 0)) { // said in words here, not in the schema's
      const details = [{ field: "graceMs", message: "Enter how many minutes ago, 0 or more." }];
      return bq.failed(clean, notice, { details }, "Not cleaned: fix the fields marked.");
    }
    const body = { state, graceMs: Math.round(Number(minutes) * 60000), limit: Number($("clean-limit").value) };
    if (!window.confirm("Remove up to " + body.limit + " of the " + count(state) + " " + state + " jobs finished more than " +
        minutes + " minutes ago? This cannot be undone.")) return;
    const result = await bq.api("POST", "/api/admin/queue/clean", body);
    if (!result.ok) return bq.failed(clean, notice, result.data, "Not cleaned: fix the fields marked.");
    bq.done(notice, "Removed " + result.data.removed.length + " " + state + " job(s).");
    refresh();
  });

  // --- bulk actions on failed jobs, each asked first with the count it touches ----------------
  $("retry-all-failed")?.addEventListener("click", async (event) => {
    const failed = count("failed");
    if (!window.confirm("Queue all " + failed + " failed jobs again? Failed posts go back through their run's Retry failed " +
        "(runs still running keep theirs failed until they finish).")) return;
    event.target.disabled = true;
    const result = await bq.api("POST", "/api/admin/queue/retry-failed");
    event.target.disabled = false;
    if (!result.ok) return bq.say(message, result.data?.error || "retry failed", "error");
    const runs = result.data.runIds.length ? " (runs " + result.data.runIds.join(", ") + ")" : "";
    bq.say(message, "Queued " + result.data.jobIds.length + " job(s) again" + runs + "; " + result.data.stillFailed +
      " still failed.", "success");
    refresh();
  });
  $("remove-all-failed")?.addEventListener("click", async (event) => {
    const failed = count("failed");
    if (!failed) return bq.say(message, "No failed jobs to remove.", "success");
    if (!window.confirm("Remove all " + failed + " failed jobs with their logs? This cannot be undone.")) return;
    event.target.disabled = true;
    const limit = Math.min(failed, 10000);
    const result = await bq.api("POST", "/api/admin/queue/clean", { state: "failed", graceMs: 0, limit });
    event.target.disabled = false;
    if (!result.ok) return bq.say(message, result.data?.error || "remove failed", "error");
    bq.say(message, "Removed " + result.data.removed.length + " failed job(s).", "success");
    refresh();
  });

  // --- live refresh (queue page only), paused by its toggle or while the tab is hidden ---------
  const toggle = $("live-toggle");
  if (!toggle) return;
  let paused = false;
  toggle.addEventListener("click", () => {
    paused = !paused;
    toggle.textContent = paused ? "Resume updates" : "Pause updates";
    toggle.setAttribute("aria-pressed", String(paused));
    document.body.dataset.live = paused ? "paused" : "on";
  });
  document.body.dataset.live = "on";

  async function refresh() {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of LIVE_PARTS) {
      const part = fresh.getElementById(id);
      if (part && $(id)) $(id).replaceWith(document.adoptNode(part));
    }
    document.querySelectorAll(".time[data-ms]").forEach((el) => { el.textContent = bq.time(el.dataset.ms); });
    document.body.dataset.refreshed = String(Date.now());
  }
  setInterval(() => { if (!paused && !document.hidden) refresh(); }, REFRESH_MS);
})();
