"use strict";
(() => {
  const message = document.getElementById("queue-message");

  document.querySelectorAll(".job-action").forEach((button) => {
    button.addEventListener("click", async () => {
      const id = button.closest("[data-job-id]").dataset.jobId;
      const action = button.dataset.action;
      const url = "/api/jobs/" + encodeURIComponent(id) + (action === "remove" ? "" : "/" + action);
      const result = await bq.api(action === "remove" ? "DELETE" : "POST", url);
      if (!result.ok) return bq.say(message, result.data?.error || "failed", "error");
      if (action === "remove" && document.getElementById("job-detail")) {
        return window.location.assign("/admin/queue");
      }
      window.location.reload();
    });
  });

  const clean = document.getElementById("clean-form");
  clean?.addEventListener("submit", async (event) => {
    event.preventDefault();
    bq.clearErrors(clean);
    const body = {
      state: document.getElementById("clean-state").value,
      graceMs: Math.round(Number(document.getElementById("clean-grace").value) * 60000),
      limit: Number(document.getElementById("clean-limit").value),
    };
    const result = await bq.api("POST", "/api/admin/queue/clean", body);
    if (!result.ok) return bq.say(message, bq.showErrors(clean, result.data).join("; ") || "Not cleaned.", "error");
    bq.say(message, "Removed " + result.data.removed.length + " job(s).", "success");
    setTimeout(() => window.location.reload(), 800);
  });
})();
