"use strict";
// Shared helpers: one fetch wrapper for the JSON API (the session cookie authenticates it), and
// for every form the API's field errors shown beside the field they name, in its label's words.
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
    root.querySelectorAll("[aria-invalid]").forEach((el) => {
      el.removeAttribute("aria-invalid");
      describedBy(el, el.dataset.errorId, false);
    });
  },

  // The form's fields, by the name the API gives them (from each message slot, `error-<name>`),
  // with the label a person reads there.
  labels(root) {
    const names = new Map();
    root.querySelectorAll(".field-error[id^='error-']").forEach((slot) => {
      const label = slot.closest(".field")?.querySelector("label");
      if (label) names.set(slot.id.slice("error-".length), labelText(label));
    });
    return names;
  },

  // A message in the words of the page: API names become labels, so "openaiApiKey must be…" reads
  // "OpenAI API key must be…" (plain-word names such as `count` only as the sentence's subject).
  readable(message, names, field) {
    const label = names.get(field);
    if (label && /^Expected `(int|float)`/.test(message)) return label + " must be a number";
    let text = String(message);
    names.forEach((shown, name) => {
      const named = /[A-Z]/.test(name) ? "\\b" + name + "\\b" : "^" + name + "\\b";
      text = text.replace(new RegExp(named, "g"), (_, at) => (at === 0 ? shown : lowerFirst(shown)));
    });
    return text;
  },

  // Returns the messages no field on the page could take.
  showErrors(root, data) {
    const details = (data && data.details) || [];
    const names = bq.labels(root);
    const unplaced = [];
    for (const detail of details) {
      const key = String(detail.field || "").split(".").pop();
      const slot = key && root.querySelector("#error-" + CSS.escape(key));
      if (slot) {
        slot.textContent = bq.readable(detail.message, names, key);
        const input = slot.closest(".field")?.querySelector("input, select, textarea");
        if (input) {
          input.setAttribute("aria-invalid", "true");
          input.dataset.errorId = slot.id;
          describedBy(input, slot.id, true);
        }
      } else {
        unplaced.push(bq.readable(detail.message, names));
      }
    }
    if (!details.length && data && data.error) unplaced.push(bq.readable(data.error, names));
    return unplaced;
  },

  // After a refused submit: each field's message beside it, the rest on the status line, and the
  // keyboard on the first field to fix (else on the status line), never dropped to the page body.
  failed(form, status, data, fallback) {
    const rest = bq.showErrors(form, data);
    bq.say(status, rest.length ? rest.join(" ") : fallback, "error");
    focusOn(form.querySelector("[aria-invalid]") || status);
  },

  // After a successful submit: the status line says so and takes the keyboard.
  done(status, text) {
    bq.say(status, text, "success");
    focusOn(status);
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
function labelText(label) {
  const copy = label.cloneNode(true);
  copy.querySelectorAll(".muted").forEach((el) => el.remove());
  return copy.textContent.replace(/\s+/g, " ").trim();
}

function lowerFirst(text) {
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text; // "OpenAI" stays
}

function describedBy(el, id, on) {
  if (!id) return;
  const ids = new Set((el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean));
  if (on) ids.add(id);
  else ids.delete(id);
  if (ids.size) el.setAttribute("aria-describedby", [...ids].join(" "));
  else el.removeAttribute("aria-describedby");
}

function focusOn(el) {
  if (!el.matches("input, select, textarea, button, a[href]") && !el.hasAttribute("tabindex")) el.tabIndex = -1;
  el.focus();
}

document.querySelectorAll(".time[data-ms]").forEach((el) => { el.textContent = bq.time(el.dataset.ms); });
