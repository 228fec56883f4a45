// Who can take a ticket (GET /api/staff?building=…), for the dispatch picker: specialists and
// engineers with their open load, the building's own specialist first. Names of the people on a
// ticket come with the ticket itself (assignee_name, first_receiver_name, the audit's actor_name).

import { get } from './api.js';

export async function staffFor(building) {
  return get(building ? `/api/staff?building=${encodeURIComponent(building)}` : '/api/staff');
}
