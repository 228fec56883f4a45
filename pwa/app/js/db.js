// The one module that owns the IndexedDB schema (conventions.md: idb-style cumulative
// upgrade blocks keyed on oldVersion). DOM-free: the service worker imports it too.
export const DB_NAME = "fieldops";
export const DB_VERSION = 1;

let opening = null;

export function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = (event) => {
        const db = request.result;
        const old = event.oldVersion;
        if (old < 1) {
          // outbox: plain objects, replayed oldest first (seq is the order of recording).
          db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
          db.createObjectStore("photos", { keyPath: "id" }); // resized JPEG blobs by client UUID
          db.createObjectStore("kv", { keyPath: "key" }); // token, device id, last sync, backoff
          db.createObjectStore("cache", { keyPath: "key" }); // checkpoints, templates, today
        }
        // if (old < 2) { … } — later versions add blocks here, never edit the ones above.
      };
      request.onsuccess = () => {
        request.result.onversionchange = () => request.result.close();
        resolve(request.result);
      };
      request.onerror = () => { opening = null; reject(request.error); };
    });
  }
  return opening;
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

function req(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export async function get(store, key) {
  const db = await openDb();
  return req(db.transaction(store).objectStore(store).get(key));
}

export async function all(store) {
  const db = await openDb();
  return req(db.transaction(store).objectStore(store).getAll());
}

export async function count(store) {
  const db = await openDb();
  return req(db.transaction(store).objectStore(store).count());
}

export async function put(store, value) {
  const db = await openDb();
  const tx = db.transaction(store, "readwrite");
  const key = await req(tx.objectStore(store).put(value));
  await done(tx);
  return key;
}

export async function del(store, key) {
  const db = await openDb();
  const tx = db.transaction(store, "readwrite");
  tx.objectStore(store).delete(key);
  await done(tx);
}

// Several writes that must land together (a run and its photos enter the outbox at once).
export async function putMany(entries) {
  const db = await openDb();
  const stores = [...new Set(entries.map(([s]) => s))];
  const tx = db.transaction(stores, "readwrite");
  for (const [store, value] of entries) tx.objectStore(store).put(value);
  await done(tx);
}

export async function kvGet(key, fallback = null) {
  const row = await get("kv", key);
  return row === undefined ? fallback : row.value;
}

export function kvSet(key, value) {
  return put("kv", { key, value });
}
