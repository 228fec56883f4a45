// What the desk's report pages share (clearing.html, complaints.html): the language switch, the
// desk's login (api.js keeps the token; without one the page sends the user to the desk to log in,
// as patrols.html does), problems in the desk's words (errors.js), and downloads of the server's
// CSV and XLSX files, which need the token like every other API call.

import { ApiError, currentUser, headers, NetworkError, token } from './api.js';
import { $ } from './dom.js';
import { errorText } from './errors.js';
import { renderReportNav } from './report_nav.js';
import { detectLanguage, language, setLanguage, t as msg, useBundle } from './i18n.js';

useBundle('reports');

function whoAmI() {
  const user = currentUser();
  $('#who').textContent = user ? msg('auth.user', { name: user.display_name || user.username }) : '';
}

export function signIn(key) {
  $('#main').hidden = true;
  $('#signin').hidden = false;
  $('#signin-text').textContent = msg(key);
}

/** Language first, then the login: true when there is a token to try (the page then loads). */
export async function startPage(relabel) {
  renderReportNav();
  await setLanguage(detectLanguage());
  const select = $('#lang-select');
  select.value = language();
  select.addEventListener('change', async () => {
    await setLanguage(select.value, { remember: true });
    whoAmI();
    if (!$('#signin').hidden) $('#signin-text').textContent = msg(token() ? 'auth.expired' : 'auth.need_login');
    relabel();
  });
  if (!token()) {
    signIn('auth.need_login');
    return false;
  }
  whoAmI();
  $('#main').hidden = false;
  return true;
}

/** A failed load or download: log in again (401), not for this role (403), else what to do. */
export function showProblem(error, status, key = 'report.error') {
  if (error instanceof ApiError && error.status === 401) return signIn('auth.expired');
  if (error instanceof ApiError && error.status === 403) {
    $('#main').hidden = true;
    $('#denied').hidden = false;
    return null;
  }
  status.textContent = msg(key, { message: errorText(error) });
  status.className = 'status error';
  return null;
}

export function clearStatus(status, text = '') {
  status.textContent = text;
  status.className = 'status';
}

/** GET a report file with the desk's token and save it under the server's file name. */
export async function downloadReport(path, fallbackName) {
  let response;
  try {
    response = await fetch(path, { headers: headers({ Accept: '*/*' }), cache: 'no-store' });
  } catch (error) {
    throw new NetworkError(error);
  }
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    throw new ApiError(response.status, problem);
  }
  const disposition = response.headers.get('Content-Disposition') || '';
  const match = /filename="([^"]+)"/.exec(disposition);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = match ? match[1] : fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Wire a download button: disabled while it runs, problems in the page's status line. */
export function downloadButton(button, status, pathFor, fallbackName) {
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await downloadReport(pathFor(), fallbackName());
    } catch (error) {
      showProblem(error, status, 'download.error');
    } finally {
      button.disabled = false;
    }
  });
}
