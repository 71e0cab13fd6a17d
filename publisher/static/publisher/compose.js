// Live previews of the compose page: audience → languages → channels, one card per target
// channel as that network shows the post (with its counter), next occurrences, image preview.
// Every count and label comes from the server (the channel adapters' own measure and check,
// data-label-* attributes, HTML drawn by the server's template): nothing is counted here.
(function () {
  "use strict";
  const form = document.getElementById("compose-form");
  if (!form) return;
  const labels = form.dataset;
  const $ = (sel) => form.querySelector(sel);
  let routes = [];
  let required = [];

  function selected(name) {
    const el = form.elements[name];
    if (!el) return [];
    return Array.from(el.selectedOptions || []).map((o) => o.value).filter(Boolean);
  }
  function written() {
    return ["fr", "nl", "de"].filter((lang) => {
      const el = form.elements["text_" + lang];
      return el && el.value.trim() !== "";
    });
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function add(parent, tag, text, cls) {
    const el = document.createElement(tag);
    if (text !== undefined) el.textContent = text;
    if (cls) el.className = cls;
    parent.appendChild(el);
    return el;
  }

  // Per language, each target channel's count in that network's own rule, from the cards.
  function renderCounters(cards) {
    ["fr", "nl", "de"].forEach((lang) => {
      const box = form.querySelector('.counter[data-language="' + lang + '"]');
      if (!box) return;
      clear(box);
      const mine = cards.filter((c) => c.language === lang && c.count !== null);
      const limited = mine.filter((c) => c.limit);
      const strictest = limited.reduce((a, c) => (a === null || c.limit - c.count < a.limit - a.count ? c : a), null);
      mine.forEach((c) => {
        const item = add(box, "span", "", "count");
        const over = c.problems.some((p) => p.code === "text_too_long");
        item.textContent = c.channel + ": " + (c.limit ? c.count + "/" + c.limit : c.count + " (" + labels.labelNoLimit + ")");
        if (c === strictest) {
          item.classList.add("strictest");
          item.title = labels.labelStrictest;
        }
        if (over) item.classList.add("over");
      });
    });
  }

  function csrfToken() {
    const input = form.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  // The image chosen but not uploaded yet: its size goes to the server, its pixels stay here.
  const newImage = { width: 0, height: 0, url: "" };
  let cardsTimer = null;
  let cardsSequence = 0;
  function refreshCards() {
    if (!labels.cardsUrl) return;
    clearTimeout(cardsTimer);
    cardsTimer = setTimeout(() => {
      const variants = {};
      ["fr", "nl", "de"].forEach((lang) => {
        const text = form.elements["text_" + lang];
        const link = form.elements["link_" + lang];
        if (text) variants[lang] = { text: text.value, link: link ? link.value : "" };
      });
      const alts = {};
      Array.from(form.elements).forEach((el) => {
        const m = /^att(\d+)_alt_(fr|nl|de)$/.exec(el.name || "");
        if (m) { alts[m[1]] = alts[m[1]] || {}; alts[m[1]][m[2]] = el.value; }
      });
      const body = {
        message: labels.messageId || null,
        title: form.elements.title ? form.elements.title.value : "",
        status: form.elements.status ? form.elements.status.value : "",
        variants: variants,
        audience: {
          municipalities: selected("audience_municipalities"),
          zones: selected("audience_zones"),
          provinces: selected("audience_provinces"),
          segments: selected("audience_segments"),
          all: form.elements.audience_all.checked,
        },
        alts: alts,
      };
      if (newImage.width) {
        const alt = {};
        ["fr", "nl", "de"].forEach((lang) => {
          const el = form.elements["image_alt_" + lang];
          if (el) alt[lang] = el.value;
        });
        const only = form.elements.image_language;
        body.new_image = { width: newImage.width, height: newImage.height, alts: alt, language: only ? only.value : "" };
      }
      const n = ++cardsSequence;
      fetch(labels.cardsUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      }).then((r) => r.json()).then((data) => {
        if (n !== cardsSequence) return; // an older answer arriving late
        const box = document.getElementById("preview-cards");
        if (data.error) {
          clear(box);
          add(box, "p", data.error, "errornote");
          return;
        }
        // Server-rendered by the same template as the message page, every value escaped there.
        box.innerHTML = data.html;
        box.querySelectorAll("img[data-new-image]").forEach((img) => { img.src = newImage.url; });
        box.dataset.ready = "1";
        renderCounters(data.cards);
      }).catch(() => {});
    }, 300);
  }

  function renderAudience(data) {
    const box = document.getElementById("audience-preview");
    clear(box);
    routes = data.routes;
    required = data.required.map((l) => l.code);
    if (!data.required.length) {
      add(box, "p", labels.labelNone);
    } else {
      add(box, "p", labels.labelRequired + " " + data.required.map((l) => l.name).join(", "), "required-languages");
      add(box, "p", labels.labelMunicipalityCount + " " + data.municipality_count, "municipality-count");
      if (data.missing.length) add(box, "p", labels.labelMissing + " " + data.missing.join(", "), "missing");
      const list = add(box, "ul", undefined, "routes");
      data.routes.forEach((r) => {
        const li = add(list, "li", r.label);
        if (!r.written) {
          li.classList.add("not-written");
          add(li, "em", " — " + labels.labelNotWritten);
        }
      });
      data.required.forEach((l) => {
        if (!data.routes.some((r) => r.language === l.code || (l.code === "de" && r.language === "fr"))) {
          add(list, "li", l.name + ": " + labels.labelNoChannel, "no-channel");
        }
      });
    }
    const de = form.querySelector(".variant-de");
    if (de) de.hidden = !(required.includes("de") || written().includes("de"));
    refreshCards();
  }

  let audienceTimer = null;
  function refreshAudience() {
    clearTimeout(audienceTimer);
    audienceTimer = setTimeout(() => {
      const params = new URLSearchParams();
      selected("audience_municipalities").forEach((v) => params.append("municipalities", v));
      selected("audience_zones").forEach((v) => params.append("zones", v));
      selected("audience_provinces").forEach((v) => params.append("provinces", v));
      selected("audience_segments").forEach((v) => params.append("segments", v));
      if (form.elements.audience_all.checked) params.append("all", "1");
      written().forEach((v) => params.append("written", v));
      fetch(labels.previewUrl + "?" + params.toString(), { credentials: "same-origin" })
        .then((r) => r.json()).then(renderAudience).catch(() => {});
    }, 150);
  }

  let scheduleTimer = null;
  function refreshSchedule() {
    clearTimeout(scheduleTimer);
    scheduleTimer = setTimeout(() => {
      const params = new URLSearchParams();
      ["first_time", "time_offset", "recurrence_preset", "recurrence_custom"].forEach((name) => {
        const el = form.elements[name];
        if (el && el.value) params.append(name, el.value);
      });
      form.querySelectorAll('input[name="recurrence_days"]:checked').forEach((el) => params.append("recurrence_days", el.value));
      const preset = form.elements.recurrence_preset.value;
      document.getElementById("recurrence-days").hidden = preset !== "weekly";
      document.getElementById("recurrence-custom").hidden = preset !== "custom";
      fetch(labels.scheduleUrl + "?" + params.toString(), { credentials: "same-origin" })
        .then((r) => r.json()).then((data) => {
          const list = document.getElementById("occurrence-preview");
          clear(list);
          data.occurrences.forEach((t) => add(list, "li", t));
          ["first_time", "recurrence_custom"].forEach((name) => {
            const errors = form.querySelector('.field-error[data-for="' + name + '"]');
            if (!errors || errors.dataset.server === "1") return;
            clear(errors);
            if (data.error && data.field === name) add(errors, "li", data.error, "live");
          });
        }).catch(() => {});
    }, 200);
  }

  // Server-rendered errors stay until the next submit; live ones are replaced as the author types.
  form.querySelectorAll(".field-error").forEach((ul) => { if (ul.children.length) ul.dataset.server = "1"; });

  ["text_fr", "text_nl", "text_de", "link_fr", "link_nl", "link_de"].forEach((name) => {
    const el = form.elements[name];
    if (el) el.addEventListener("input", () => { refreshCards(); if (name.startsWith("text_")) refreshAudience(); });
  });
  ["audience_municipalities", "audience_zones", "audience_provinces", "audience_segments"].forEach((name) => {
    const el = form.elements[name];
    if (!el) return;
    el.addEventListener("change", refreshAudience);
    // Select2 (the admin's autocomplete) fires its events through django.jQuery.
    if (window.django && window.django.jQuery) window.django.jQuery(el).on("change", refreshAudience);
  });
  form.elements.audience_all.addEventListener("change", refreshAudience);
  ["first_time", "time_offset", "recurrence_preset", "recurrence_custom"].forEach((name) => {
    const el = form.elements[name];
    if (el) { el.addEventListener("change", refreshSchedule); el.addEventListener("input", refreshSchedule); }
  });
  form.querySelectorAll('input[name="recurrence_days"]').forEach((el) => el.addEventListener("change", refreshSchedule));

  Array.from(form.elements).forEach((el) => {
    if (/^att\d+_alt_(fr|nl|de)$/.test(el.name || "")) el.addEventListener("input", refreshCards);
  });
  ["image_alt_fr", "image_alt_nl", "image_alt_de"].forEach((name) => {
    if (form.elements[name]) form.elements[name].addEventListener("input", refreshCards);
  });
  if (form.elements.image_language) form.elements.image_language.addEventListener("change", refreshCards);
  ["title", "status"].forEach((name) => { if (form.elements[name]) form.elements[name].addEventListener("change", refreshCards); });

  const image = form.elements.image;
  const preview = document.getElementById("image-preview");
  if (image && preview) {
    image.addEventListener("change", () => {
      const file = image.files && image.files[0];
      if (newImage.url) URL.revokeObjectURL(newImage.url);
      if (!file) { preview.hidden = true; newImage.width = 0; refreshCards(); return; }
      newImage.url = URL.createObjectURL(file);
      preview.onload = () => {
        newImage.width = preview.naturalWidth;
        newImage.height = preview.naturalHeight;
        refreshCards();
      };
      preview.src = newImage.url;
      preview.hidden = false;
    });
  }

  refreshAudience();
  refreshSchedule();
})();
