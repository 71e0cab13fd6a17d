// Live language check of the compose page: each text (variants and alt texts) is sent to the
// guard on a pause in typing; its findings show under the field, errors and warnings styled
// apart, and a place name in another language gets a one-click replacement.
// Labels come from the server (data-label-* attributes on the form), already translated.
(function () {
  "use strict";
  const form = document.getElementById("compose-form");
  if (!form || !form.dataset.languageUrl) return;
  const labels = form.dataset;
  const DELAY = 300;
  // text_fr, image_alt_nl, att12_alt_de: the language is the name's suffix.
  const FIELD = /^(text|image_alt|att\d+_alt)_(fr|nl|de)$/;

  function csrfToken() {
    const input = form.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function box(el) {
    let list = form.querySelector('.language-findings[data-for="' + el.name + '"]');
    if (!list) {
      list = document.createElement("ul");
      list.className = "language-findings";
      list.dataset.for = el.name;
      list.setAttribute("aria-live", "polite");
      el.insertAdjacentElement("afterend", list);
    }
    return list;
  }

  function replaceAt(el, finding) {
    // The text may have changed since the check: replace only if the name is still there.
    if (el.value.slice(finding.start, finding.end) !== finding.excerpt) return;
    el.value = el.value.slice(0, finding.start) + finding.replacement + el.value.slice(finding.end);
    const caret = finding.start + finding.replacement.length;
    el.focus();
    el.setSelectionRange(caret, caret);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function render(el, findings) {
    const list = box(el);
    while (list.firstChild) list.removeChild(list.firstChild);
    findings.forEach((finding) => {
      const li = document.createElement("li");
      li.className = "finding severity-" + finding.severity;
      li.dataset.code = finding.code;
      if (finding.excerpt) {
        const q = document.createElement("q");
        q.textContent = finding.excerpt;
        li.appendChild(q);
        li.appendChild(document.createTextNode(" "));
      }
      li.appendChild(document.createTextNode(finding.message));
      if (finding.code === "place_name" && finding.replacement && finding.start >= 0) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button replace-place-name";
        button.textContent = labels.labelReplaceWith.replace("{name}", finding.replacement);
        button.addEventListener("click", () => replaceAt(el, finding));
        li.appendChild(document.createTextNode(" "));
        li.appendChild(button);
      }
      list.appendChild(li);
    });
  }

  const timers = new Map();
  const sequence = new Map();
  function check(el) {
    const lang = FIELD.exec(el.name)[2];
    // Only the latest answer for a field is shown: an older one may arrive after it.
    const n = (sequence.get(el.name) || 0) + 1;
    sequence.set(el.name, n);
    if (!el.value.trim()) { render(el, []); return; }
    fetch(labels.languageUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ language: lang, text: el.value }),
    })
      .then((r) => (r.ok ? r.json() : { findings: [] }))
      .then((data) => { if (sequence.get(el.name) === n) render(el, data.findings || []); })
      .catch(() => {});
  }

  Array.from(form.elements).forEach((el) => {
    if (!el.name || !FIELD.test(el.name)) return;
    el.addEventListener("input", () => {
      clearTimeout(timers.get(el.name));
      timers.set(el.name, setTimeout(() => check(el), DELAY));
    });
    if (el.value.trim()) check(el);
  });
})();
