"use strict";
(() => {
  const meta = document.getElementById("post-meta");
  const slug = meta.dataset.slug;
  const message = document.getElementById("post-message");
  const base = "/api/blog/posts/" + encodeURIComponent(slug);
  const scheduleForm = document.getElementById("schedule-form");
  const byId = (id) => document.getElementById(id);

  function show(post) {
    const published = post.status === "published";
    byId("post-status").textContent = post.status;
    byId("post-status").className = "badge " + post.status;
    byId("view-public").hidden = !published;
    byId("publish").disabled = published || post.incomplete;
    byId("unpublish").disabled = !published;
    scheduleForm.hidden = published || post.incomplete;
    const at = post.publishAt ? Date.parse(post.publishAt) : 0;
    byId("schedule-line").hidden = !at;
    byId("scheduled-at").textContent = bq.time(at);
    byId("cancel-schedule").hidden = !at;
  }

  async function act(method, url, done, body) {
    bq.clearErrors(meta);
    const result = await bq.api(method, url, body);
    if (!result.ok) return bq.failed(meta, message, result.data, "Please correct the field marked above.");
    if (method === "DELETE" && url === base) return window.location.assign("/admin/blog/posts");
    show(result.data);
    bq.done(message, done);
  }

  byId("delete").addEventListener("click", () => {
    if (window.confirm("Delete this post? Its title becomes available to later runs.")) act("DELETE", base);
  });
  if (!scheduleForm) return; // the site leaves publishing to admins: no publishing controls here
  byId("publish").addEventListener("click", () => act("POST", base + "/publish", "Published."));
  byId("unpublish").addEventListener("click", () => act("POST", base + "/unpublish", "Back to draft."));
  scheduleForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const local = byId("publish-at").value;
    const at = local ? new Date(local) : null; // datetime-local is the browser's zone: send it as UTC
    if (!at || Number.isNaN(at.getTime())) {
      bq.clearErrors(meta);
      return bq.failed(meta, message, { details: [{ field: "publishAt", message: "Publish at: choose a date and time" }] }, "");
    }
    act("POST", base + "/schedule", "Scheduled.", { publishAt: at.toISOString() });
  });
  byId("cancel-schedule").addEventListener("click", () => act("DELETE", base + "/schedule", "Schedule cancelled."));
})();
