// Compiles the house Sass (GOV.UK Frontend plus council styles) and copies GOV.UK Frontend's
// JavaScript into var/static_build/, which Django serves as static files. Nothing here is
// committed: `npm ci && npm run build` recreates it. No GOV.UK images or fonts are copied:
// this is a council's service, so the crown, crest and GDS Transport must never ship.
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import * as sass from "sass";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const nodeModules = join(root, "node_modules");
const outDir = join(root, "var", "static_build");
const cssOut = join(outDir, "css", "application.css");
const jsOut = join(outDir, "js", "govuk-frontend.min.js");
const govukDist = join(nodeModules, "govuk-frontend", "dist", "govuk");

const result = sass.compile(join(root, "ehe_register", "assets", "scss", "application.scss"), {
  loadPaths: [nodeModules],
  style: "compressed",
  quietDeps: true,
  // GOV.UK Frontend 5.x is written for @import; our own entry point has to @import it too.
  silenceDeprecations: ["import"],
});

await mkdir(dirname(cssOut), { recursive: true });
await mkdir(dirname(jsOut), { recursive: true });
await writeFile(cssOut, result.css);
await copyFile(join(govukDist, "govuk-frontend.min.js"), jsOut);
// The script names its source map; copying it keeps collectstatic's manifest and browsers' tools
// from looking for a file that is not there.
await copyFile(join(govukDist, "govuk-frontend.min.js.map"), `${jsOut}.map`);

console.log(`Wrote ${relative(root, cssOut)} and ${relative(root, jsOut)}`);
