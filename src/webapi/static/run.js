"use strict";
// The run page's actions: Retry failed, and a continuous run's schedule (save, pause, resume).
(() => {
  const $ = (id) => document.getElementById(id);
  const base = "/api/admin/blog/auto-generate/runs/" + $("run-detail").dataset.runId;

  $("retry-failed")?.addEventListener("click", async (event) => {
    event.target.disabled = true;
    const result = await bq.api("POST", base + "/retry-failed");
    if (!result.ok) {
      event.target.disabled = false;
      return bq.say($("run-page-message"), result.data?.error || "could not retry", "error");
    }
    // The live page follows the retried posts as they are written.
    window.location.assign("/admin/blog/auto-generate?retried=" + result.data.jobIds.length);
  });

  const form = $("schedule-form");
  if (!form) return;
  const notice = $("schedule-message");
  async function send(path, body, done) {
    bq.clearErrors(form);
    const result = await bq.api("POST", base + path, body);
    if (!result.ok) return bq.failed(form, notice, result.data, "Not saved: fix the fields marked.");
    sessionStorage.setItem("run-notice", done);
    window.location.reload(); // the page shows the run as the server now has it
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const minutes = $("schedule-interval").value;
    const cron = $("schedule-cron").value.trim();
    send("/schedule", cron ? { cron } : { intervalMinutes: minutes === "" ? null : Number(minutes) }, "Schedule saved.");
  });
  $("pause-run")?.addEventListener("click", () => send("/pause", undefined, "Paused: no more batches until resumed."));
  $("resume-run")?.addEventListener("click", () => send("/resume", undefined, "Resumed: the next batch is planned now."));
  const said = sessionStorage.getItem("run-notice");
  if (said) { sessionStorage.removeItem("run-notice"); bq.say(notice, said, "success"); }
})();
