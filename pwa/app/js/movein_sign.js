// The move-in wizard's last steps: both signatures on canvas pads, the review, and the
// outbox payload (server/movein/schemas.py::MoveInPayload — unknown fields are refused).
import { local, t } from "./i18n.js";
import { uuid } from "./outbox.js";
import { SignaturePad } from "./signature.js";
import * as data from "./movein_data.js";
import { h } from "./movein_steps.js";

// ---- 6. signatures: the owner (or the proxy) and the staff member ----------------------------
export function signaturesStep(draft, ui) {
  const pending = new Set(); // PNG exports still being written when "next" is tapped
  const pads = [];
  const el = h("div", {}, h("p", { class: "sub" }, t("movein.sign_help")));
  for (const who of ["owner", "staff"]) {
    const canvas = h("canvas", { class: "mi-signature", "data-signer": who });
    const id = draft.signatures[who] || uuid(); // one per signer: uploaded once, after the save
    const status = h("span", { class: "mi-signed", "data-signed": who });
    const mark = () => {
      status.textContent = draft.signatures[who] ? t("movein.signed") : t("movein.not_signed");
      status.classList.toggle("done", !!draft.signatures[who]);
    };
    const title = who === "owner" ? (draft.proxy_on ? t("movein.sign_proxy") : t("movein.sign_owner")) : t("movein.sign_staff");
    el.append(h("section", { class: "mi-pad" },
      h("h3", {}, title, " ", status), canvas,
      h("button", { type: "button", class: "mi-clear", "data-clear": who, onclick: async () => {
        pads.find((p) => p.canvas === canvas)?.clear();
        await data.dropBlob(draft.signatures[who]);
        draft.signatures[who] = null;
        mark();
        ui.save();
      } }, t("movein.sign_clear"))));
    mark();
    // The pad measures its canvas, so it is made once the step is in the document.
    queueMicrotask(async () => {
      const pad = new SignaturePad(canvas, { onEnd: (p) => {
        const job = (async () => {
          await data.putBlob(await p.toBlob(), id);
          draft.signatures[who] = id;
          mark();
          ui.save();
        })();
        pending.add(job);
        job.finally(() => pending.delete(job));
      } });
      pads.push(pad);
      const saved = await data.getBlob(draft.signatures[who]);
      if (saved) await pad.load(saved);
    });
  }
  const check = async () => {
    await Promise.all([...pending]);
    if (!draft.signatures.owner) return draft.proxy_on ? t("movein.need_sign_proxy") : t("movein.need_sign_owner");
    if (!draft.signatures.staff) return t("movein.need_sign_staff");
    return null;
  };
  return { el, check };
}

const UOM = { m3: "m³", kWh: "kWh" };

// ---- 7. review and save ----------------------------------------------------------------------
export function reviewStep(draft, ui) {
  const row = (label, value) => h("div", { class: "mi-review-row" }, h("dt", {}, label), h("dd", {}, value ?? "—"));
  const answers = Object.entries(draft.answers);
  const count = (s) => answers.filter(([, a]) => a.status === s).length;
  const defects = (draft.template?.items || []).filter((i) => draft.answers[i.key]?.status === "defect").map(local);
  const rows = [
    row(t("movein.step.unit"), data.unitLabel(draft.unit)),
    row(t("movein.stage"), t(`movein.stage.${draft.stage}`)),
    row(t("movein.owner_name"), [draft.owner_name, draft.owner_phone].filter(Boolean).join(" · ")),
    draft.proxy_on ? row(t("movein.proxy"), `${draft.proxy.name} · ${draft.proxy.power_of_attorney}`) : null,
    row(t("movein.staff"), draft.staff.filter((s) => s.trim()).join("、") || "—"),
    row(t("movein.step.checklist"), t("movein.review_counts", { ok: count("ok"), defect: count("defect"), na: count("na") })),
    defects.length ? row(t("movein.review_defects"), defects.join("、")) : null,
  ];
  if (draft.stage === "handover") {
    for (const { quantity: q, uom } of data.meters(draft.template)) {
      const r = draft.readings[q];
      rows.push(row(t(`movein.meter.${q}`), r.absent ? t("movein.no_meter") : `${r.value} ${UOM[uom] || uom || ""}`));
    }
    const cards = draft.access_cards.filter((c) => c.trim());
    rows.push(row(t("movein.keys"), draft.keys),
      row(t("movein.access_cards"), cards.join("、") || "—"),
      ...data.QUANTITIES.filter((q) => draft.utility_cards[q].trim())
        .map((q) => row(t(`movein.card.${q}`), draft.utility_cards[q])));
  }
  const el = h("div", {},
    h("dl", { class: "mi-review" }, ...rows.filter(Boolean)),
    h("label", {}, t("movein.note"), h("textarea", { name: "note", rows: 3,
      oninput: (e) => { draft.note = e.target.value; ui.save(); } }, draft.note || "")));
  return { el, check: () => null };
}

// ---- the outbox item ----------------------------------------------------------------------
const trimmed = (s) => (s || "").trim();

export function payload(draft, handedOverAt) {
  const p = {
    unit: draft.unit.slug, stage: draft.stage,
    owner_name: trimmed(draft.owner_name),
    staff: draft.staff.map(trimmed).filter(Boolean),
    template: draft.template.name, template_version: draft.template.version,
    started_at: draft.started_at, handed_over_at: handedOverAt,
    answers: draft.template.items.map((item) => answer(item, draft.answers[item.key] || {})).filter(Boolean),
    owner_signature_id: draft.signatures.owner, staff_signature_id: draft.signatures.staff,
  };
  if (draft.tag) p.tag = draft.tag;
  if (trimmed(draft.owner_phone)) p.owner_phone = trimmed(draft.owner_phone);
  if (draft.proxy_on) {
    const x = draft.proxy;
    p.proxy = { name: trimmed(x.name), power_of_attorney: trimmed(x.power_of_attorney) };
    if (trimmed(x.phone)) p.proxy.phone = trimmed(x.phone);
    if (x.photo) p.proxy.attachment_id = x.photo;
  }
  if (draft.stage === "handover") {
    p.readings = data.meters(draft.template).map((m) => m.quantity).filter((q) => !draft.readings[q]?.absent)
      .map((q) => ({ quantity: q, value: Number(draft.readings[q].value), photo_id: draft.readings[q].photo }));
    p.keys = Number(draft.keys) || 0;
    p.access_cards = draft.access_cards.map(trimmed).filter(Boolean);
    p.utility_cards = Object.fromEntries(data.QUANTITIES.filter((q) => trimmed(draft.utility_cards[q]))
      .map((q) => [q, trimmed(draft.utility_cards[q])]));
  }
  if (trimmed(draft.note)) p.note = trimmed(draft.note);
  return p;
}

function answer(item, s) {
  const a = { item: item.key };
  if (item.type === "check" && s.status) a.status = s.status;
  if (item.type === "number" && s.number != null) a.number = s.number;
  if (item.type === "text" && trimmed(s.text)) a.text = trimmed(s.text);
  if (s.status === "defect" || item.type === "photo") {
    if (trimmed(s.note)) a.note = trimmed(s.note);
    if (s.photo) a.photo_id = s.photo;
  }
  return a.status || a.number != null || a.text || a.photo_id ? a : null;
}

// Every attachment the payload names, in the order the outbox uploads them.
export function attachmentIds(p) {
  return [
    ...p.answers.map((a) => a.photo_id), ...(p.readings || []).map((r) => r.photo_id),
    p.proxy?.attachment_id, p.owner_signature_id, p.staff_signature_id,
  ].filter(Boolean);
}
