"use strict";
(() => {
  const form = document.getElementById("settings-form");
  const message = document.getElementById("settings-message");
  // The page lists one key field per provider that takes a key: [provider, wire field name].
  const keyFields = Array.from(form.querySelectorAll(".key-field"), (el) => [
    el.dataset.provider,
    el.dataset.field,
  ]);
  const pendingRemoval = new Set();

  function render(view) {
    document.getElementById("preferred-model").value = view.preferredAiModel;
    for (const [provider] of keyFields) {
      const key = view.providers[provider] || { configured: false };
      const status = document.getElementById(provider + "-status");
      const server = view.serverKeys && view.serverKeys[provider] ? " (server key in use)" : "";
      status.textContent = key.configured ? "configured · …" + key.last4 : "not configured" + server;
      document.getElementById("remove-" + provider + "-key").hidden = !key.configured;
      const input = document.getElementById(provider + "-key");
      input.value = "";
      input.placeholder = key.configured ? "enter a new key to replace it" : "paste a key";
    }
    pendingRemoval.clear();
    warnIfUnkeyed(view);
  }

  // The server's warning, kept true after a save: the preferred model's provider has no key to use.
  function warnIfUnkeyed(view) {
    const warning = document.getElementById("key-warning");
    const option = document.getElementById("preferred-model").selectedOptions[0];
    const provider = option && option.dataset.provider;
    const field = form.querySelector('.key-field[data-provider="' + provider + '"]');
    const unkeyed = field && !view.providers[provider]?.configured && !view.serverKeys?.[provider];
    warning.hidden = !unkeyed;
    warning.textContent = unkeyed ?
      "Your preferred model, " + option.dataset.name + ", needs a key for " + field.dataset.label + ": add one below." : "";
  }

  function update() {
    const body = { preferredAiModel: document.getElementById("preferred-model").value };
    for (const [provider, field] of keyFields) {
      const value = document.getElementById(provider + "-key").value;
      if (value !== "") body[field] = value;
      else if (pendingRemoval.has(provider)) body[field] = null;
    }
    return body;
  }

  async function save(body, done) {
    bq.clearErrors(form);
    bq.say(message, "Saving…");
    const result = await bq.api("POST", "/api/user/ai-settings", body);
    if (!result.ok) return bq.failed(form, message, result.data, "Not saved: fix the field marked above.");
    render(result.data);
    bq.done(message, done);
  }

  for (const [provider, field] of keyFields) {
    document.getElementById("remove-" + provider + "-key").addEventListener("click", () => {
      pendingRemoval.add(provider);
      save({ [field]: null }, "Key removed.");
    });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save(update(), "Settings saved.");
  });
})();
