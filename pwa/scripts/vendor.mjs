// Copy the pinned browser dependencies from node_modules into app/vendor/ (served by the
// server itself: the phone must work offline and we never load code from a CDN).
// Refresh: edit the version in package.json, `npm install`, `npm run vendor`, commit vendor/.
import { copyFileSync, readFileSync } from "node:fs";

const version = JSON.parse(readFileSync("node_modules/jsqr/package.json", "utf8")).version;
copyFileSync("node_modules/jsqr/dist/jsQR.js", "app/vendor/jsQR.js");
console.log(`vendored jsqr ${version} -> app/vendor/jsQR.js`);
