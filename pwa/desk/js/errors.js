// A refused request, in words for the desk: the problem's stable `code` translated into what to do,
// else our sentence for its HTTP status with the server's own detail.

import { t, tMaybe } from './i18n.js';
import { statusLabel } from './labels.js';

const KEYS = { 0: 'errors.network', 400: 'errors.invalid', 401: 'errors.unauthorized', 403: 'errors.forbidden',
  404: 'errors.not_found', 409: 'errors.conflict', 422: 'errors.invalid' };

function fieldName(field) {
  return tMaybe(`field_name.${field}`) || field;
}

// What a code's message may name: the refused step, the ticket's status, the fields at fault.
function params(problem) {
  const fields = (problem.errors || []).map((e) => e && e.field).filter(Boolean);
  return {
    action: problem.action ? (tMaybe(`actions.${problem.action}`) || problem.action) : '',
    status: problem.ticket_status ? statusLabel(problem.ticket_status) : '',
    fields: fields.length ? [...new Set(fields)].map(fieldName).join(t('errors.list_separator')) : '',
    detail: problem.detail || '',
  };
}

export function errorText(error) {
  const status = error && typeof error.status === 'number' ? error.status : -1;
  if (status === 0) return t('errors.network');
  const problem = (error && error.problem) || {};
  if (problem.code) {
    const text = tMaybe(`code.${problem.code}`, params(problem));
    if (text) return text;
  }
  const ours = t(KEYS[status] || 'errors.server');
  return problem.detail ? t('errors.with_detail', { message: ours, detail: problem.detail }) : ours;
}

/** Field errors of a 400 (problem.errors), by field name. */
export function fieldErrors(error) {
  const result = {};
  for (const item of (error && error.problem && error.problem.errors) || []) {
    if (item.field) result[item.field] = item.message;
  }
  return result;
}
