// The move-in wizard's first steps: the unit (scan or search), the people, the facilities
// checklist, the meter base readings and the handover register (domain.md, 入伙 4–5).
// Each step returns { el, check(), leave() }; check() names what is missing, or null.
import { local, t } from "./i18n.js";
import { resize } from "./photo.js";
import * as scan from "./scan.js";
import * as data from "./movein_data.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children.filter((c) => c != null));
  return el;
}

const field = (label, input) => h("label", {}, label, input);

// A photo kept in the draft: `get()` the current id, `set(id)` after a new one is taken.
export function photoButton(name, get, set, save, text = t("check.photo")) {
  const label = h("label", { class: `button photo${get() ? " done" : ""}` }, get() ? t("check.photo_added") : text);
  const input = h("input", { type: "file", accept: "image/*", capture: "environment", name,
    class: "visually-hidden", onchange: async (e) => {
      const file = e.target.files[0];
      if (!file) return;
      const id = await data.putBlob(await resize(file));
      await data.dropBlob(get());
      set(id);
      label.firstChild.textContent = t("check.photo_added");
      label.classList.add("done");
      save();
    } });
  label.append(input);
  return label;
}

// Rows of one value each (staff names, access card numbers): add and remove.
export function rowList(name, values, { max, placeholder = "", onChange }) {
  const wrap = h("div", { class: "mi-rows", "data-list": name });
  const render = (focus) => {
    wrap.replaceChildren(...values.map((v, i) => h("div", { class: "mi-row" },
      h("input", { name: `${name}-${i}`, value: v, placeholder, autocapitalize: "off", oninput: (e) => {
        values[i] = e.target.value;
        onChange();
      } }),
      h("button", { type: "button", class: "mi-remove", "aria-label": t("movein.remove"), onclick: () => {
        values.splice(i, 1);
        render();
        onChange();
      } }, "✕"))),
    values.length < max ? h("button", { type: "button", class: "mi-add", "data-add": name, onclick: () => {
      values.push("");
      render(values.length - 1);
      onChange();
    } }, t("movein.add")) : null);
    if (focus != null) wrap.querySelector(`input[name=${name}-${focus}]`)?.focus();
  };
  render();
  return wrap;
}

// ---- 1. the unit ----------------------------------------------------------------------------
export function unitStep(draft, ui) {
  const chosen = h("div", { class: "mi-chosen", id: "mi-unit" });
  const showChosen = () => {
    chosen.replaceChildren(draft.unit
      ? h("strong", {}, data.unitLabel(draft.unit), draft.tag ? h("small", {}, " · ", t("movein.unit_scanned")) : null)
      : h("span", {}, t("movein.unit_none")),
    draft.unit && draft.stage === "second" ? h("p", { class: "sub" }, t("movein.unit_second")) : "");
  };
  showChosen();
  const el = h("div", {}, chosen);
  const leave = () => scan.stop();
  if (draft.locked) return { el, check: () => null, leave }; // a second inspection from the due list

  const message = h("p", { class: "error", role: "alert", id: "mi-scan-message" });
  const video = h("video", { id: "camera", muted: true, playsinline: true, hidden: true });
  const results = h("ul", { class: "mi-units" });
  const pick = (unit, tag = null) => {
    draft.unit = { slug: unit.slug, label: data.unitLabel(unit), state: unit.state || null };
    draft.tag = tag;
    // Handed over already (on record): what is left to do there is a second inspection.
    draft.stage = unit.handover_inspection_id ? "second" : "handover";
    draft.previous = unit.handover_inspection_id || null;
    if (unit.owner) draft.owner_name = unit.owner;
    message.textContent = "";
    showChosen();
    ui.save();
  };
  const byTag = async (text) => {
    const tag = scan.parseTag(text);
    const found = tag ? await data.unitForTag(tag.content) : { error: "unknown" };
    if (found.error) {
      message.textContent = t(`movein.tag_${found.error}`);
      return false;
    }
    pick(found.unit, tag.content);
    return true;
  };
  const onCode = async (code) => {
    if (await byTag(code)) { scan.stop(); video.hidden = true; return; }
    setTimeout(() => scan.start(video, onCode).catch(() => {}), 1500);
  };
  const search = h("input", { name: "unit-search", id: "mi-unit-search", type: "search", autocapitalize: "off",
    placeholder: t("movein.unit_search"), oninput: () => list() });
  const list = async () => {
    const found = (await data.searchUnits(search.value)).slice(0, 40);
    results.replaceChildren(...found.map((u) => h("li", {},
      h("button", { type: "button", class: "mi-unit", "data-unit": u.slug, onclick: () => pick(u) },
        h("strong", {}, data.unitLabel(u)),
        h("span", {}, [u.state ? t(`movein.state.${u.state}`) : null, u.owner,
          u.handover_inspection_id ? t("movein.unit_handed_over") : null].filter(Boolean).join(" · "))))));
    if (!found.length) results.append(h("li", { class: "mi-empty" }, t("movein.unit_no_match")));
  };
  list();
  el.append(
    h("button", { type: "button", class: "big", id: "mi-scan", onclick: () => {
      video.hidden = false;
      scan.start(video, onCode).catch(() => { video.hidden = true; message.textContent = t("scan.no_camera"); });
    } }, t("movein.unit_scan")),
    video, message,
    field(t("movein.unit_search_label"), search),
    h("button", { type: "button", id: "mi-code", onclick: () => byTag(search.value) }, t("movein.unit_code")),
    results);
  return { el, leave, check: () => (draft.unit ? null : t("movein.need_unit")) };
}

// ---- 2. owner or proxy, accompanying staff ------------------------------------------------
export function peopleStep(draft, ui) {
  const p = draft.proxy;
  const input = (name, value, set, attrs = {}) => h("input", { name, value, ...attrs,
    oninput: (e) => { set(e.target.value); ui.save(); } });
  const proxyBox = h("div", { class: "mi-proxy", hidden: !draft.proxy_on },
    field(t("movein.proxy_name"), input("proxy-name", p.name, (v) => { p.name = v; })),
    field(t("movein.proxy_phone"), input("proxy-phone", p.phone, (v) => { p.phone = v; }, { type: "tel", inputmode: "tel" })),
    field(t("movein.proxy_poa"), input("proxy-poa", p.power_of_attorney, (v) => { p.power_of_attorney = v; })),
    photoButton("proxy-photo", () => p.photo, (id) => { p.photo = id; }, ui.save, t("movein.proxy_photo")));
  const el = h("div", {},
    field(t("movein.owner_name"), input("owner-name", draft.owner_name, (v) => { draft.owner_name = v; })),
    field(t("movein.owner_phone"), input("owner-phone", draft.owner_phone, (v) => { draft.owner_phone = v; },
      { type: "tel", inputmode: "tel" })),
    h("label", { class: "mi-toggle" }, h("input", { type: "checkbox", name: "proxy-on", checked: draft.proxy_on,
      onchange: (e) => { draft.proxy_on = e.target.checked; proxyBox.hidden = !draft.proxy_on; ui.save(); } }),
    " ", t("movein.proxy_on")),
    proxyBox,
    h("h3", {}, t("movein.staff")), h("p", { class: "sub" }, t("movein.staff_help")),
    rowList("staff", draft.staff, { max: 5, placeholder: t("movein.staff_placeholder"), onChange: ui.save }));
  const check = () => {
    if (!draft.owner_name.trim()) return t("movein.need_owner");
    if (draft.owner_phone.trim() && !data.PHONE.test(draft.owner_phone.trim())) return t("movein.bad_phone");
    if (draft.proxy_on) {
      if (!p.name.trim() || !p.power_of_attorney.trim()) return t("movein.need_proxy");
      if (p.phone.trim() && !data.PHONE.test(p.phone.trim())) return t("movein.bad_phone");
    }
    if (draft.staff.some((s) => s.trim().length > 100)) return t("movein.bad_staff");
    return null;
  };
  return { el, check };
}

// ---- 3. the facilities checklist (same answers as a patrol: ok / defect / n.a.) ------------
export function checklistStep(draft, ui) {
  const tpl = draft.template;
  if (!tpl) return { el: h("p", { class: "error" }, t("movein.no_template")), check: () => t("movein.no_template") };
  const el = h("div", { class: "checklist" }, h("p", { class: "sub" }, local(tpl)));
  const sections = tpl.sections || [{ key: "all", items: tpl.items.map((i) => i.key) }];
  for (const section of sections) {
    if (section.zh) el.append(h("h3", { class: "mi-section" }, local(section)));
    for (const key of section.items) {
      const item = tpl.items.find((i) => i.key === key);
      if (item) el.append(itemBlock(item, draft, ui));
    }
  }
  // Most of a new flat is fine: after the defects, the rest is marked OK in one tap.
  el.append(h("button", { type: "button", class: "big", id: "mi-rest-ok", onclick: () => {
    for (const item of tpl.items) {
      const s = (draft.answers[item.key] ||= {});
      if (item.type !== "check" || s.status) continue;
      s.status = "ok";
      const radio = el.querySelector(`#mi-${item.key}-ok`);
      if (radio) radio.checked = true;
    }
    ui.save();
  } }, t("movein.rest_ok")));
  const check = () => {
    for (const item of tpl.items) {
      const s = draft.answers[item.key] || {};
      const given = { check: s.status, number: s.number, text: s.text, photo: s.photo }[item.type];
      if (item.required && (given == null || given === "")) return t("check.need_answer", { item: local(item) });
      if (s.status === "defect" && (!s.note?.trim() || !s.photo)) return t("check.need_note_photo", { item: local(item) });
    }
    return null;
  };
  return { el, check };
}

function itemBlock(item, draft, ui) {
  const s = (draft.answers[item.key] ||= {});
  const block = h("fieldset", { class: "item", "data-item": item.key }, h("legend", {}, local(item)));
  if (item.type === "check") {
    const extra = h("div", { class: "defect-extra", hidden: s.status !== "defect" });
    const choices = h("div", { class: "choices" });
    for (const value of ["ok", "defect", "na"]) {
      const id = `mi-${item.key}-${value}`;
      choices.append(h("input", { type: "radio", name: item.key, id, value, checked: s.status === value,
        onchange: () => { s.status = value; extra.hidden = value !== "defect"; ui.save(); } }),
      h("label", { for: id, class: `choice ${value}` }, t(`check.${value}`)));
    }
    extra.append(h("textarea", { name: `${item.key}-note`, placeholder: t("check.note"), rows: 2,
      oninput: (e) => { s.note = e.target.value; ui.save(); } }, s.note || ""),
    photoButton(`${item.key}-photo`, () => s.photo, (id) => { s.photo = id; }, ui.save));
    block.append(choices, extra);
  } else if (item.type === "number") {
    block.append(h("input", { type: "number", inputmode: "decimal", step: "any", name: item.key, value: s.number ?? "",
      oninput: (e) => { s.number = e.target.value === "" ? null : Number(e.target.value); ui.save(); } }));
  } else if (item.type === "text") {
    block.append(h("textarea", { name: item.key, rows: 2, oninput: (e) => { s.text = e.target.value; ui.save(); } }, s.text || ""));
  } else if (item.type === "photo") {
    block.append(photoButton(`${item.key}-photo`, () => s.photo, (id) => { s.photo = id; }, ui.save));
  }
  return block;
}

// ---- 4. meter base readings: typed off the register, each with a photo of the meter --------
const UOM = { m3: "m³", kWh: "kWh" };

export function readingsStep(draft, ui) {
  const meters = data.meters(draft.template);
  const el = h("div", {}, h("p", { class: "sub" }, t("movein.readings_help")));
  for (const m of meters) {
    const q = m.quantity;
    const r = (draft.readings[q] ||= { value: "", photo: null, absent: false });
    if (m.required) r.absent = false;
    const uom = UOM[m.uom] || m.uom || t(`movein.uom.${q}`);
    const body = h("div", { hidden: r.absent },
      h("input", { type: "number", inputmode: "decimal", step: "any", min: "0", name: `reading-${q}`, value: r.value,
        placeholder: uom, oninput: (e) => { r.value = e.target.value; ui.save(); } }),
      photoButton(`reading-${q}-photo`, () => r.photo, (id) => { r.photo = id; }, ui.save, t("movein.meter_photo")));
    el.append(h("fieldset", { class: "item", "data-reading": q },
      h("legend", {}, t(`movein.meter.${q}`), ` (${uom})`), body,
      m.required ? null : h("label", { class: "mi-toggle" }, h("input", { type: "checkbox", name: `reading-${q}-absent`,
        checked: r.absent, onchange: (e) => { r.absent = e.target.checked; body.hidden = r.absent; ui.save(); } }),
      " ", t("movein.no_meter"))));
  }
  const check = () => {
    for (const { quantity: q } of meters) {
      const r = draft.readings[q];
      if (r.absent) continue;
      const v = String(r.value).trim();
      if (v === "" || !Number.isFinite(Number(v)) || Number(v) < 0) return t("movein.need_reading", { m: t(`movein.meter.${q}`) });
      if (!r.photo) return t("movein.need_meter_photo", { m: t(`movein.meter.${q}`) });
    }
    return null;
  };
  return { el, check };
}

// ---- 5. the handover register: keys, access cards, utility cards ----------------------------
export function handoverStep(draft, ui) {
  const u = draft.utility_cards;
  const el = h("div", {},
    field(t("movein.keys"), h("input", { type: "number", inputmode: "numeric", min: "0", max: "50", step: "1", name: "keys",
      value: draft.keys, oninput: (e) => { draft.keys = e.target.value; ui.save(); } })),
    h("h3", {}, t("movein.access_cards")), h("p", { class: "sub" }, t("movein.card_help")),
    rowList("card", draft.access_cards, { max: 20, placeholder: t("movein.card_placeholder"), onChange: ui.save }),
    h("h3", {}, t("movein.utility_cards")),
    ...data.QUANTITIES.map((q) => field(t(`movein.card.${q}`), h("input", { name: `utility-${q}`, value: u[q],
      autocapitalize: "off", oninput: (e) => { u[q] = e.target.value; ui.save(); } }))));
  const check = () => {
    const keys = String(draft.keys).trim();
    if (!/^\d{1,2}$/.test(keys) || Number(keys) > 50) return t("movein.need_keys");
    const cards = draft.access_cards.map((c) => c.trim()).filter(Boolean);
    const bad = cards.find((c) => !data.CARD.test(c));
    if (bad) return t("movein.bad_card", { c: bad });
    if (new Set(cards).size !== cards.length) return t("movein.dup_card");
    for (const q of data.QUANTITIES) {
      if (u[q].trim() && !data.CARD.test(u[q].trim())) return t("movein.bad_card", { c: u[q].trim() });
    }
    return null;
  };
  return { el, check };
}
