"use strict";
(() => {
  const meta = document.getElementById("post-meta");
  const slug = meta.dataset.slug;
  const message = document.getElementById("post-message");
  const base = "/api/blog/posts/" + encodeURIComponent(slug);

  async function act(method, url, done) {
    const result = await bq.api(method, url);
    if (!result.ok) return bq.say(message, result.data?.error || "failed", "error");
    if (method === "DELETE") return window.location.assign("/admin/blog/posts");
    const published = result.data.status === "published";
    document.getElementById("post-status").textContent = result.data.status;
    document.getElementById("post-status").className = "badge " + result.data.status;
    document.getElementById("publish").disabled = published || result.data.incomplete;
    document.getElementById("unpublish").disabled = !published;
    bq.say(message, done, "success");
  }

  document.getElementById("publish").addEventListener("click", () => act("POST", base + "/publish", "Published."));
  document.getElementById("unpublish").addEventListener("click", () => act("POST", base + "/unpublish", "Back to draft."));
  document.getElementById("delete").addEventListener("click", () => {
    if (window.confirm("Delete this post? Its title becomes available to later runs.")) act("DELETE", base);
  });
})();
