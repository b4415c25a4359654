"use strict";
// The post editor: the preview is the server's own safe renderer (POST /api/blog/posts/preview),
// so what is previewed is what the post page shows; saving sends the version read, and a 409
// says someone else saved first instead of overwriting their work.
(() => {
  const form = document.getElementById("edit-form");
  const message = document.getElementById("edit-message");
  const body = document.getElementById("body");
  const preview = document.getElementById("preview");
  let timer = null;
  let asked = 0;

  async function renderPreview() {
    const ticket = ++asked;
    const result = await bq.api("POST", "/api/blog/posts/preview", { body: body.value });
    if (ticket !== asked) return; // a newer keystroke has asked since
    if (result.ok) preview.innerHTML = result.data.html; // sanitized by the server (nh3)
    else preview.textContent = result.data?.error || "preview unavailable";
  }

  body.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(renderPreview, 250);
  });

  function edit() {
    const value = (name) => form.elements[name].value;
    return {
      version: Number(form.dataset.version),
      title: value("title"),
      slug: value("slug").trim(),
      excerpt: value("excerpt"),
      tags: value("tags").split(",").map((tag) => tag.trim()).filter(Boolean),
      posterUrl: value("posterUrl").trim(),
      body: value("body"),
    };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    bq.clearErrors(form);
    bq.say(message, "Saving…");
    const result = await bq.api("PATCH", "/api/blog/posts/" + encodeURIComponent(form.dataset.slug), edit());
    if (!result.ok) return bq.failed(form, message, result.data, "Please correct the fields marked above.");
    form.dataset.version = result.data.version;
    if (result.data.slug !== form.dataset.slug) {
      form.dataset.slug = result.data.slug;
      history.replaceState(null, "", "/admin/blog/posts/" + encodeURIComponent(result.data.slug) + "/edit");
      document.querySelectorAll('a[href^="/admin/blog/posts/"]').forEach((a) => {
        a.href = "/admin/blog/posts/" + encodeURIComponent(result.data.slug);
      });
    }
    bq.done(message, "Saved.");
  });
})();
