"use strict";
// Shared helpers: one fetch wrapper for the JSON API (the session cookie authenticates it) and
// field errors shown next to the field the API names in its 422 details.
const bq = {
  async api(method, url, body) {
    const init = { method, headers: { accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      return { ok: false, status: 0, data: { error: "the server cannot be reached: " + err.message } };
    }
    if (response.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text }; }
    return { ok: response.ok, status: response.status, data };
  },

  clearErrors(root) {
    root.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    root.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  },

  // Returns the messages no field on the page could take.
  showErrors(root, data) {
    const details = (data && data.details) || [];
    const unplaced = [];
    for (const detail of details) {
      const key = String(detail.field || "").split(".").pop();
      const slot = key && root.querySelector("#error-" + CSS.escape(key));
      if (slot) {
        slot.textContent = detail.message;
        const input = slot.closest(".field")?.querySelector("input, select, textarea");
        input?.setAttribute("aria-invalid", "true");
      } else {
        unplaced.push(detail.message);
      }
    }
    if (!details.length && data && data.error) unplaced.push(data.error);
    return unplaced;
  },

  say(el, text, kind) {
    el.textContent = text;
    el.className = "message" + (kind ? " " + kind : "");
  },

  time(ms) {
    return ms ? new Date(Number(ms)).toLocaleString() : "";
  },

  usd(value) {
    return "$" + Number(value || 0).toFixed(value && value < 0.01 ? 4 : 2);
  },
};
document.querySelectorAll(".time[data-ms]").forEach((el) => { el.textContent = bq.time(el.dataset.ms); });
