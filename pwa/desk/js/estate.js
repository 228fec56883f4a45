// The estate (GET /api/estate): its time zone and the names of the buildings this user may see.

import { get } from './api.js';
import { setTimeZone } from './time.js';

let estate = null;  // {slug, name, timezone, buildings: [{slug, name, floors}]}
const names = new Map();

/** Load (or reload) the estate; true when something shown on screen changed. */
export async function loadEstate() {
  const next = await get('/api/estate');
  const before = JSON.stringify(estate);
  estate = next;
  names.clear();
  for (const building of next.buildings) names.set(building.slug, building.name);
  const zoneChanged = setTimeZone(next.timezone);
  return zoneChanged || before !== JSON.stringify(next);
}

/** The estate's slug (xinwaitan): the site in /api/calendar/{site}/… */
export function estateSlug() {
  return estate ? estate.slug : '';
}

export function estateName() {
  return estate ? estate.name : '';
}

/** The buildings this user may see, in the estate's order. */
export function estateBuildings() {
  return estate ? estate.buildings.map((b) => b.slug) : [];
}

/** The estate's own name for a building (1#楼), or null before the estate is known. */
export function buildingName(slug) {
  return names.get(slug) || null;
}

/** The building a unit slug belongs to (b1-1203 → b1), by the known buildings' slugs. */
export function buildingOfUnit(unitSlug) {
  let best = null;
  for (const slug of names.keys()) {
    if (unitSlug.startsWith(`${slug}-`) && (!best || slug.length > best.length)) best = slug;
  }
  return best;
}
