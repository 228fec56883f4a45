// "New request": a phone call or a visitor becomes a repair, complaint or help ticket.

import { createTicket, getAll } from './api.js';
import { COMPLAINT_CLASSES, DEPARTMENTS, REQUEST_SOURCES, SEVERITIES } from './config.js';
import { $, h } from './dom.js';
import { errorText, fieldErrors } from './errors.js';
import { t, tMaybe } from './i18n.js';
import { buildingLabel, classLabel, departmentLabel, severityLabel, sourceLabel } from './labels.js';
import { fillSelect } from './tickets.js';

const units = new Map();  // building → [UnitRead]
let formKey = null;  // one per opened form: a resend of the same request reuses its client id
let buildings = [];
let onCreated = () => {};
let onSiteTouched = false;

export function initRequestForm(hooks) {
  ({ onCreated } = hooks);
  const form = $('#request-form');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    send();
  });
  $('#request-cancel').addEventListener('click', () => $('#request-dialog').close());
  $('#request-building').addEventListener('change', () => loadUnits($('#request-building').value));
  for (const radio of form.querySelectorAll('input[name="kind"]')) radio.addEventListener('change', kindChanged);
  $('#request-needs-on-site').addEventListener('change', () => { onSiteTouched = true; });
}

export function setRequestBuildings(list) {
  buildings = list;
  fillRequestOptions();
}

/** Fill the selects (again after a language switch). */
export function fillRequestOptions() {
  fillSelect($('#request-source'), REQUEST_SOURCES.map((s) => [s, sourceLabel(s)]));
  fillSelect($('#request-building'), [['', t('request.pick_building')], ...buildings.map((b) => [b, buildingLabel(b)])]);
  fillSelect($('#request-severity'), SEVERITIES.map((s) => [s, severityLabel(s)]));
  fillSelect($('#request-department'), [['', t('request.no_department')], ...DEPARTMENTS.map((d) => [d, departmentLabel(d)])]);
  fillSelect($('#request-classification'), [['', t('request.classify_later')], ...COMPLAINT_CLASSES.map((c) => [c, classLabel(c)])]);
  const building = $('#request-building').value;
  if (building && units.has(building)) fillUnits(building);
}

export function openRequestForm() {
  const form = $('#request-form');
  form.reset();
  formKey = crypto.randomUUID();
  onSiteTouched = false;
  $('#request-severity').value = 'normal';
  $('#request-source').value = 'phone';
  fillSelect($('#request-unit'), [['', t('request.pick_building_first')]]);
  kindChanged();
  showError(null);
  $('#request-dialog').showModal();
  $('#request-title').focus();
}

function kindChanged() {
  const kind = $('#request-form').elements.kind.value;
  $('#request-complaint-fields').hidden = kind !== 'complaint';
  // Repairs usually need someone on site (the 15-minute promise); complaints usually do not.
  if (!onSiteTouched) $('#request-needs-on-site').checked = kind === 'repair';
}

async function loadUnits(building) {
  const select = $('#request-unit');
  if (!building) {
    fillSelect(select, [['', t('request.pick_building_first')]]);
    return;
  }
  if (!units.has(building)) {
    fillSelect(select, [['', t('request.loading_units')]]);
    try {
      units.set(building, await getAll(`/api/units?building=${encodeURIComponent(building)}`));
    } catch (error) {
      showError(errorText(error));
      return;
    }
  }
  if ($('#request-building').value === building) fillUnits(building);
}

function fillUnits(building) {
  const list = [...units.get(building)].sort((a, b) => a.floor - b.floor || a.number.localeCompare(b.number));
  fillSelect($('#request-unit'), [['', t('request.public_area')],
    ...list.map((u) => [u.slug, t('request.unit_option', { floor: u.floor, room: `${u.floor}${u.number}`,
      state: tMaybe(`unit_state.${u.state}`) || u.state })])]);
}

function showError(message, fields = {}) {
  const box = $('#request-error');
  box.hidden = !message;
  box.textContent = message || '';
  for (const el of $('#request-form').querySelectorAll('.field-error')) el.remove();
  for (const [field, text] of Object.entries(fields)) {
    const input = $('#request-form').elements[field];
    const anchor = input && (input.closest ? input.closest('label') : null);
    if (anchor) anchor.append(h('span', { class: 'field-error' }, text));
  }
}

async function send() {
  const form = $('#request-form');
  const v = (name) => String(form.elements[name].value || '').trim();
  const payload = {
    kind: v('kind'),
    title: v('title'),
    source: v('source'),
    severity: v('severity'),
    needs_on_site: $('#request-needs-on-site').checked,
  };
  for (const name of ['description', 'building', 'unit', 'requester_name', 'requester_phone']) if (v(name)) payload[name] = v(name);
  if (payload.kind === 'complaint') {
    if (v('department')) payload.department = v('department');
    if (v('classification')) payload.classification = v('classification');
  }
  const button = $('#request-submit');
  button.disabled = true;
  showError(null);
  try {
    const ticket = await createTicket(payload, formKey);
    $('#request-dialog').close();
    onCreated(ticket);
  } catch (error) {
    showError(errorText(error), fieldErrors(error));
  } finally {
    button.disabled = false;
  }
}

