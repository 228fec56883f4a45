// A refused request, in words for the desk: our own sentence (translated) plus the server's detail.

import { t } from './i18n.js';

const KEYS = { 0: 'errors.network', 400: 'errors.invalid', 401: 'errors.unauthorized', 403: 'errors.forbidden',
  404: 'errors.not_found', 409: 'errors.conflict', 422: 'errors.invalid' };

export function errorText(error) {
  const status = error && typeof error.status === 'number' ? error.status : -1;
  const ours = t(KEYS[status] || 'errors.server');
  const detail = error && error.problem && error.problem.detail;
  return detail && status !== 0 ? t('errors.with_detail', { message: ours, detail }) : ours;
}

/** Field errors of a 400 (problem.errors), by field name. */
export function fieldErrors(error) {
  const result = {};
  for (const item of (error && error.problem && error.problem.errors) || []) {
    if (item.field) result[item.field] = item.message;
  }
  return result;
}
