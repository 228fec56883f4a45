// The form that opens under the drawer's buttons for a step that needs more than a click: its
// fields (from actions.js), the dispatch picker, hints from the handbook, and the values to send.

import { isSupervisor } from './actions.js';
import { COMPLAINT_CLASSES, DEPARTMENTS, SATISFACTION, SUPERVISOR_ONLY_CLASS } from './config.js';
import { h } from './dom.js';
import { t, tMaybe } from './i18n.js';
import { buildingLabel, classLabel, departmentLabel } from './labels.js';
import { parseTime, siteInputToIso, siteInputValue } from './time.js';

const HOUR = 3600 * 1000;

const label = (action, field) => t(`panel.${action.name}.${field.name}`);

function placeholder(action, field) {
  return tMaybe(`panel.${action.name}.${field.name}_placeholder`)
    || (field.kind === 'text' ? tMaybe(`panel.${action.name}.placeholder`) : null);
}

function options(kind, user) {
  if (kind === 'classes') {
    // Only a supervisor may confirm "invalid" (domain.md); the server refuses it from anyone else.
    const classes = isSupervisor(user) ? [...COMPLAINT_CLASSES, SUPERVISOR_ONLY_CLASS] : COMPLAINT_CLASSES;
    return classes.map((c) => [c, classLabel(c)]);
  }
  return DEPARTMENTS.map((d) => [d, departmentLabel(d)]);
}

/** Tomorrow at the next full hour (or a day after the present promise), in the site's zone. */
function defaultPromise(ticket, now) {
  const base = Math.max(now, parseTime(ticket.promised_at) || 0) + 24 * HOUR;
  return Math.ceil(base / HOUR) * HOUR;
}

function input(action, field, ticket, user, now) {
  const name = field.name;
  if (field.kind === 'text') {
    return h('textarea', { name, rows: '3', maxlength: String(field.max || 2000), required: field.required || false,
      placeholder: placeholder(action, field) });
  }
  if (field.kind === 'line') {
    return h('input', { name, maxlength: String(field.max || 200), autocomplete: 'off', placeholder: placeholder(action, field) });
  }
  if (field.kind === 'datetime') {
    return h('input', { name, type: 'datetime-local', required: true, min: siteInputValue(now),
      value: siteInputValue(defaultPromise(ticket, now)) });
  }
  if (field.kind === 'select') {
    const current = ticket[name] || '';
    return h('select', { name, required: true },
      h('option', { value: '' }, t('panel.choose')),
      options(field.options, user).map(([value, text]) => h('option', { value, selected: value === current }, text)));
  }
  if (field.kind === 'rating') {
    return h('div', { class: 'rating', role: 'radiogroup' }, SATISFACTION.map((n) => h('label', { class: `rating-${n}` },
      h('input', { type: 'radio', name, value: String(n), required: true }), ' ', t(`satisfaction.${n}`))));
  }
  // choice: a follow-up by phone (the caller signs) or a visit (the owner signs the form)
  return h('div', { class: 'choice', role: 'radiogroup' }, field.options.map((value, i) => h('label', {},
    h('input', { type: 'radio', name, value, checked: i === 0 }), ' ', t(`panel.${action.name}.${name}.${value}`))));
}

function hints(action, ticket, user) {
  const list = [tMaybe(`panel.${action.name}.hint`)];
  if (action.name === 'postpone' && ticket.postponements >= 1 && !isSupervisor(user)) {
    list.push(t('panel.postpone.second_hint'));  // never postpone the same matter twice (domain.md)
  }
  if (action.name === 'classify' && !isSupervisor(user)) list.push(t('panel.classify.invalid_hint'));
  return list.filter(Boolean).map((text) => h('p', { class: 'hint' }, text));
}

function staffPicker(staff, staffError) {
  if (staffError) return h('p', { class: 'inline-error' }, staffError);
  if (!staff) return h('p', { class: 'muted' }, t('dispatch.loading'));
  if (!staff.length) return h('p', { class: 'muted' }, t('dispatch.nobody'));
  const suggested = staff.find((s) => s.suggested) || null;
  return h('fieldset', { class: 'staff-picker' },
    h('legend', {}, t('dispatch.who')),
    staff.map((person) => h('label', { class: `staff-option${person.suggested ? ' suggested' : ''}`, dataset: { staffId: person.id, username: person.username } },
      h('input', { type: 'radio', name: 'assignee_id', value: String(person.id), checked: suggested && suggested.id === person.id }),
      h('span', { class: 'staff-name' }, person.display_name),
      person.suggested ? h('span', { class: 'badge suggested' }, t('dispatch.suggested')) : null,
      h('span', { class: 'staff-meta' }, [
        person.roles.map((r) => tMaybe(`role.${r}`) || r).join(' / '),
        person.buildings.length ? person.buildings.map(buildingLabel).join(' ') : t('dispatch.whole_estate'),
      ].join(' · ')),
      h('span', { class: `staff-load${person.open_tickets >= 5 ? ' heavy' : ''}` }, t('dispatch.load', { n: person.open_tickets })))));
}

/** The fields to send from a filled form, or {error} naming what is missing. */
function collect(action, form) {
  const data = new FormData(form);
  const fields = {};
  for (const field of action.fields || []) {
    const raw = String(data.get(field.name) ?? '').trim();
    if (field.kind === 'choice') {
      fields.by_phone = raw === 'phone';
    } else if (field.kind === 'datetime') {
      const iso = siteInputToIso(raw);
      if (iso) fields[field.name] = iso;
    } else if (field.kind === 'rating') {
      if (raw) fields[field.name] = Number(raw);
    } else if (raw) {
      fields[field.name] = raw;
    }
    if (field.required && fields[field.name] === undefined) {
      return { error: t('errors.required', { field: label(action, field) }) };
    }
  }
  if (action.picker === 'staff') {
    const assignee = data.get('assignee_id');
    if (!assignee) return { error: t('errors.pick_assignee') };
    fields.assignee_id = Number(assignee);
  }
  return { fields };
}

/**
 * The panel form for `action` on `ticket`. hooks: onSubmit(fields), onError(message), onCancel().
 * ctx: {user, busy, staff, staffError}.
 */
export function panelForm(action, ticket, ctx, hooks) {
  const now = Date.now();
  const form = h('form', { class: 'panel-form', dataset: { action: action.name }, novalidate: true });
  form.append(h('h3', {}, t(`actions.${action.name}`)));
  if (action.picker === 'staff') form.append(staffPicker(ctx.staff, ctx.staffError));
  for (const field of action.fields || []) {
    const control = input(action, field, ticket, ctx.user, now);
    const wrapper = field.kind === 'rating' || field.kind === 'choice' ? 'fieldset' : 'label';
    const caption = wrapper === 'fieldset' ? h('legend', {}, label(action, field)) : h('span', { dataset: { caption: field.name } }, label(action, field));
    form.append(h(wrapper, { class: `field field-${field.name}` }, caption, control));
  }
  form.append(...hints(action, ticket, ctx.user));
  form.append(h('div', { class: 'panel-buttons' },
    h('button', { type: 'submit', class: `btn ${action.danger ? 'danger' : 'primary'}`, disabled: ctx.busy },
      t(`panel.${action.name}.submit`)),
    h('button', { type: 'button', class: 'btn secondary', onclick: () => hooks.onCancel() }, t('panel.cancel'))));
  if (action.name === 'follow_up') followUpSigner(form, action);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const { fields, error } = collect(action, form);
    if (error) hooks.onError(error);
    else hooks.onSubmit(fields);
  });
  return form;
}

// A phone follow-up is signed by the caller, a visit by the owner on the form: say which.
function followUpSigner(form, action) {
  const update = () => {
    const kind = form.elements.by_phone.value || 'phone';
    const caption = form.querySelector('[data-caption="signed_by"]');
    if (caption) caption.textContent = t(`panel.${action.name}.signed_by.${kind}`);
    form.elements.signed_by.placeholder = t(`panel.${action.name}.signed_by_placeholder.${kind}`);
  };
  for (const radio of form.querySelectorAll('input[name="by_phone"]')) radio.addEventListener('change', update);
  update();
}
