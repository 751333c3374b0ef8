/* The dashboard's words in the operator's language: one JSON catalogue per language
 * (i18n/zh-CN.json, i18n/en-US.json, with the same keys). Chinese unless the browser asks
 * for English; the switch in the header keeps the choice in this browser. A key missing
 * from the catalogue shows as itself (a state as the server spells it) and is recorded in
 * window.dashboardI18n.missing, which the browser tests require to stay empty.
 * What the server writes in sentences (a dispatch decision, a hold's reason) comes as
 * the server wrote it. */
"use strict";

const LANGUAGES = { "zh-CN": "中文", "en-US": "English" };
const i18n = { lang: "zh-CN", messages: {}, missing: new Set() };
window.dashboardI18n = i18n;

function chooseLanguage() {
  const kept = localStorage.getItem("dronepatrol.lang");
  if (kept && LANGUAGES[kept]) return kept;
  for (const l of navigator.languages || [navigator.language || ""]) {
    if (/^zh/i.test(l)) return "zh-CN";
    if (/^en/i.test(l)) return "en-US";
  }
  return "zh-CN";
}

// The words for `key`, with {name} placeholders filled from `params` (as text: escape
// the result before it goes into HTML).
function t(key, params = {}) {
  let text = i18n.messages[key];
  if (text == null) {
    i18n.missing.add(key);
    text = key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

// A value the server sends (a state, a kind, a role) in words.
function tv(group, value) {
  const key = `${group}.${value}`;
  if (key in i18n.messages) return i18n.messages[key];
  i18n.missing.add(key);
  return String(value ?? "").replace(/_/g, " ");
}

function translatePage(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => (el.textContent = t(el.dataset.i18n)));
  for (const attr of ["title", "aria-label", "alt"]) {
    root.querySelectorAll(`[data-i18n-${attr}]`).forEach((el) => el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`))));
  }
  document.title = t("page.title");
}

function languageSwitches() {
  document.querySelectorAll("select.lang").forEach((select) => {
    select.replaceChildren(
      ...Object.entries(LANGUAGES).map(([code, name]) => {
        const option = document.createElement("option");
        option.value = code;
        option.textContent = name;
        option.selected = code === i18n.lang;
        return option;
      }),
    );
    select.addEventListener("change", () => {
      localStorage.setItem("dronepatrol.lang", select.value);
      location.reload();
    });
  });
}

async function loadLanguage() {
  i18n.lang = chooseLanguage();
  const reply = await fetch(`/ui/i18n/${i18n.lang}.json`, { cache: "no-cache" });
  i18n.messages = await reply.json();
  document.documentElement.lang = i18n.lang;
  translatePage();
  languageSwitches();
}
