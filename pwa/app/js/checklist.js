// A checklist from a versioned template: ok / defect / n.a., number, text, photo. A defect
// needs a note and a photo before the patrol can be finished.
import { local, t, when } from "./i18n.js";
import { resize } from "./photo.js";
import { uuid } from "./outbox.js";

const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children.filter((c) => c != null));
  return el;
};

function hintText(hint, hints) {
  if (!hint || !hints || !(hint in hints)) return null;
  const v = hints[hint];
  if (v == null) return null;
  if (hint === "intercom") return t(v.online ? "check.hint_intercom_online" : "check.hint_intercom_offline");
  if (hint.startsWith("meter:")) return t("check.hint_meter", { v: v.value, u: v.uom, t: when(v.at) });
  if (hint === "renovation_hours") {
    return t("check.hint_hours", { w: v.windows.join(", "), ok: t(v.now_permitted ? "check.hint_ok" : "check.hint_not_ok") });
  }
  return null;
}

// Renders the form into `root`; resolves on submit with { answers, photos }.
export function render(root, template, checkpoint, hints, onSubmit) {
  const state = {}; // key -> { status, number, text, note, photo: {id, blob} }
  const form = h("form", { class: "checklist", novalidate: true });
  for (const item of template.items) {
    const s = (state[item.key] = {});
    const hint = hintText(item.hint, hints);
    const block = h("fieldset", { class: "item", "data-item": item.key },
      h("legend", {}, local(item), item.required ? null : h("small", {}, " (—)")),
      hint ? h("p", { class: "hint" }, hint) : null);
    if (item.type === "check") {
      const extra = h("div", { class: "defect-extra", hidden: true });
      const choices = h("div", { class: "choices" });
      for (const value of ["ok", "defect", "na"]) {
        const id = `${item.key}-${value}`;
        choices.append(h("input", { type: "radio", name: item.key, id, value, onchange: () => {
          s.status = value;
          extra.hidden = value !== "defect";
        } }), h("label", { for: id, class: `choice ${value}` }, t(`check.${value}`)));
      }
      const note = h("textarea", { name: `${item.key}-note`, placeholder: t("check.note"), rows: 2,
        oninput: (e) => { s.note = e.target.value; } });
      extra.append(note, photoInput(item.key, s));
      block.append(choices, extra);
    } else if (item.type === "number") {
      block.append(h("input", { type: "number", inputmode: "decimal", step: "any", name: item.key,
        oninput: (e) => { s.number = e.target.value === "" ? null : Number(e.target.value); } }));
    } else if (item.type === "text") {
      block.append(h("textarea", { name: item.key, rows: 2, oninput: (e) => { s.text = e.target.value; } }));
    } else if (item.type === "photo") {
      block.append(photoInput(item.key, s));
    }
    form.append(block);
  }
  const error = h("p", { class: "error", role: "alert" });
  form.append(error, h("button", { type: "submit", class: "primary big" }, t("check.submit")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const problem = check(template, state);
    if (problem) { error.textContent = problem; return; }
    const photos = [];
    const answers = template.items.map((item) => {
      const s = state[item.key];
      const a = { item: item.key };
      if (item.type === "check") a.status = s.status;
      if (item.type === "number") a.number = s.number ?? null;
      if (item.type === "text") a.text = s.text || null;
      if (s.status === "defect" || item.type === "photo") {
        if (s.note) a.note = s.note;
        if (s.photo) { a.photo_id = s.photo.id; photos.push(s.photo); }
      }
      return a;
    }).filter((a) => a.status || a.number != null || a.text || a.photo_id);
    onSubmit({ answers, photos });
  });
  root.replaceChildren(h("h2", {}, checkpoint.label), h("p", { class: "sub" }, local(template)), form);
}

function photoInput(key, s) {
  const label = h("label", { class: "button photo" }, t("check.photo"));
  const input = h("input", { type: "file", accept: "image/*", capture: "environment", name: `${key}-photo`,
    class: "visually-hidden", onchange: async (e) => {
      const file = e.target.files[0];
      if (!file) return;
      s.photo = { id: uuid(), blob: await resize(file) };
      label.textContent = t("check.photo_added");
      label.classList.add("done");
    } });
  label.append(input);
  return label;
}

function check(template, state) {
  for (const item of template.items) {
    const s = state[item.key];
    const given = { check: s.status, number: s.number, text: s.text, photo: s.photo }[item.type];
    if (item.required && (given == null || given === "")) return t("check.need_answer", { item: local(item) });
    if (s.status === "defect" && (!s.note || !s.photo)) return t("check.need_note_photo", { item: local(item) });
  }
  return null;
}
