"use strict";
(() => {
  const detail = document.getElementById("run-detail");
  const button = document.getElementById("retry-failed");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    const url = "/api/admin/blog/auto-generate/runs/" + detail.dataset.runId + "/retry-failed";
    const result = await bq.api("POST", url);
    if (!result.ok) {
      button.disabled = false;
      return bq.say(document.getElementById("run-page-message"), result.data?.error || "could not retry", "error");
    }
    // The live page follows the retried posts as they are written.
    window.location.assign("/admin/blog/auto-generate?retried=" + result.data.jobIds.length);
  });
})();
