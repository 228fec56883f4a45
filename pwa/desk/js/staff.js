// Who can take tickets (GET /api/staff), for names and the dispatch picker.

import { get } from './api.js';

const byId = new Map();

export async function loadStaff() {
  try {
    for (const person of await get('/api/staff')) byId.set(person.id, person);
  } catch (error) {
    console.warn('staff', error);  // a role without access still sees ids
  }
}

export async function staffFor(building) {
  const list = await get(building ? `/api/staff?building=${encodeURIComponent(building)}` : '/api/staff');
  for (const person of list) byId.set(person.id, person);
  return list;
}

export function staffName(id) {
  if (id === null || id === undefined) return '';
  const person = byId.get(id);
  return person ? person.display_name : `#${id}`;
}
